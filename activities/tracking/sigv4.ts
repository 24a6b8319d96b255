/**
 * AWS Signature Version 4 for the requests to SageMaker's managed MLflow (activities/tracking/mlflow-client.ts),
 * which authenticates each REST call with IAM as the `sagemaker-mlflow` plugin does for MLflow's Python client.
 * The SDK signs its own commands but has no client for MLflow's REST API, so the worker signs these itself:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html. Checked against AWS's documented
 * example (test/unit/tracking-sigv4.test.ts) and against botocore's signer, which the plugin uses
 * (test/integration/tracking.test.ts).
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  url: string;
  /** Headers to send and sign (names in any case); `host`, `x-amz-date` and the session token are added. */
  headers: Record<string, string>;
  body: string;
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it: every byte but the unreserved characters. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** `20150830T123600Z` */
export function amzDate(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function canonicalQuery(search: URLSearchParams): string {
  return [...search.entries()]
    .map(([k, v]) => [encode(k), encode(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** The SHA-256 of a body, as SageMaker's MLflow wants it in `x-amz-content-sha256`. */
export function payloadHash(body: string): string {
  return sha256Hex(body);
}

/** The headers to send: the request's own, plus host, x-amz-date, the session token and the Authorization. */
export function signRequest(req: RequestToSign, region: string, service: string, credentials: AwsCredentials, at: Date = new Date()): Record<string, string> {
  const url = new URL(req.url);
  const date = amzDate(at);
  const day = date.slice(0, 8);
  const payloadHash = sha256Hex(req.body);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
  headers.host = url.host;
  headers['x-amz-date'] = date;
  if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;

  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${headers[n].trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const path = url.pathname.split('/').map((segment) => encode(decodeURIComponent(segment))).join('/') || '/';
  const canonicalRequest = [req.method.toUpperCase(), path, canonicalQuery(url.searchParams), canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
