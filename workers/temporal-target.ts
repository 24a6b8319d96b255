/**
 * Which Temporal server, namespace and credentials the worker and the CLI use. One resolution for both, in
 * Temporal's own environment configuration (`@temporalio/envconfig`, the same variables and TOML profiles as
 * the `temporal` CLI), so a worker on AWS reaches Temporal Cloud or a self-hosted cluster by environment alone:
 *
 *   explicit flag (--address, --namespace)  >  TEMPORAL_* variables  >  the TOML profile  >  local defaults
 *
 * The profile is `--profile`, else TEMPORAL_PROFILE, else `default`; the file is TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml. TLS comes from the profile's `[profile.X.tls]` table or TEMPORAL_TLS_*
 * (mTLS: a client certificate and key); an API key (`api_key`, TEMPORAL_API_KEY) turns TLS on by itself.
 */
import fs from 'node:fs';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/client';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

export interface TemporalTarget {
  address: string;
  namespace: string;
  /**
   * Absent: plaintext (the local dev server). True: TLS with the system's roots. False: plaintext although an
   * API key is set (TEMPORAL_TLS=false or the profile's `tls.disabled`, e.g. behind a TLS-terminating sidecar);
   * absent with an API key, the SDK would turn TLS on.
   */
  tls?: TLSConfig | true | false;
  apiKey?: string;
  /** gRPC headers from the profile's `grpc_meta` or TEMPORAL_GRPC_META_*. */
  metadata?: Record<string, string>;
  /** The profile that was read, when a TOML file provided one. */
  profile?: string;
}

/** The client configuration cannot be used as it stands; the message names the file, profile or variable. */
export class TemporalConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemporalConfigError';
  }
}

export interface TargetOverrides {
  address?: string;
  namespace?: string;
  profile?: string;
}

const ENV_NAMES_WHERE_EMPTY_MEANS_UNSET = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_PROFILE',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_TLS',
];

/** `TEMPORAL_ADDRESS=` in a shell script means "not set", as it always did for Judgeloop. */
function cleanEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (ENV_NAMES_WHERE_EMPTY_MEANS_UNSET.includes(k) && v.trim() === '') continue;
    out[k] = ENV_NAMES_WHERE_EMPTY_MEANS_UNSET.includes(k) ? v.trim() : v;
  }
  return out;
}

function describeSource(env: Record<string, string>, profile: string | undefined): string {
  const file = env.TEMPORAL_CONFIG_FILE ?? '~/.config/temporalio/temporal.toml';
  return `Temporal client configuration (file ${file}, profile "${profile ?? 'default'}")`;
}

export function resolveTemporalTarget(overrides: TargetOverrides = {}, rawEnv: NodeJS.ProcessEnv = process.env): TemporalTarget {
  const env = cleanEnv(rawEnv);
  const profileName = overrides.profile?.trim() || env.TEMPORAL_PROFILE;
  const configFile = env.TEMPORAL_CONFIG_FILE;
  // envconfig treats a missing file as "no file"; a file the user named explicitly must exist.
  if (configFile !== undefined && !fs.existsSync(configFile)) {
    throw new TemporalConfigError(
      `TEMPORAL_CONFIG_FILE is ${configFile}, which does not exist: fix the path or unset the variable.`,
    );
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ profile: profileName, overrideEnvVars: env });
  } catch (e) {
    const reason = (e as Error).message;
    const hint = /not found in config data/.test(reason)
      ? ' Add a [profile.NAME] table to the file, or pick another profile with --profile / TEMPORAL_PROFILE.'
      : '';
    throw new TemporalConfigError(`${describeSource(env, profileName)}: ${reason}.${hint}`);
  }
  let connectionOptions: Pick<ReturnType<typeof toClientOptions>['connectionOptions'], 'address' | 'tls'>;
  try {
    // Reads the TLS certificate and key files named by the profile or TEMPORAL_TLS_*_PATH.
    connectionOptions = toClientOptions(profile).connectionOptions;
  } catch (e) {
    throw new TemporalConfigError(`${describeSource(env, profileName)}: cannot read a TLS file: ${(e as Error).message}`);
  }
  const target: TemporalTarget = {
    address: overrides.address?.trim() || connectionOptions.address || DEFAULT_TEMPORAL_ADDRESS,
    namespace: overrides.namespace?.trim() || profile.namespace || DEFAULT_TEMPORAL_NAMESPACE,
  };
  const tls = connectionOptions.tls;
  if (tls) target.tls = tls === true ? true : tls;
  else if (tls === false && profile.apiKey) target.tls = false; // explicitly off: keep it off for the SDK
  if (profile.apiKey) target.apiKey = profile.apiKey;
  // grpc_meta from TOML and TEMPORAL_GRPC_META_* are strings (the type also allows binary headers).
  if (profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0) target.metadata = { ...profile.grpcMeta };
  if (profileName) target.profile = profileName;
  return target;
}

/** The options `Connection.connect` / `NativeConnection.connect` take, from a target. */
export function connectOptions(target: TemporalTarget): {
  address: string;
  tls?: TLSConfig | true | false;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  return {
    address: target.address,
    ...(target.tls !== undefined ? { tls: target.tls } : {}),
    ...(target.apiKey ? { apiKey: target.apiKey } : {}),
    ...(target.metadata ? { metadata: target.metadata } : {}),
  };
}

/** One line for logs: where, which namespace, and how it authenticates (never the secret itself). */
export function describeTarget(target: TemporalTarget): string {
  const auth = target.apiKey
    ? target.tls === false
      ? 'plaintext + API key'
      : 'TLS + API key'
    : target.tls && target.tls !== true && target.tls.clientCertPair
      ? 'mTLS'
      : target.tls
        ? 'TLS'
        : 'plaintext';
  return `${target.address} (namespace ${target.namespace}, ${auth}${target.profile ? `, profile ${target.profile}` : ''})`;
}
