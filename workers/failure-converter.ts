/**
 * With payload encryption on, failure messages and stack traces go into an encoded payload that the codec
 * encrypts too (Temporal's `encodeCommonAttributes`): a failure often names what failed — a dataset's URI,
 * a config value — which would otherwise sit in the history in clear. Loaded by path (the worker bundles it
 * into the workflow code); clients and replayers decode such failures with the default converter.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });

export const FAILURE_CONVERTER_PATH = __filename;
