/**
 * `judgeloop --version`: Judgeloop's version, the code version a worker records in its manifests
 * (JUDGELOOP_CODE_VERSION, when set), and the Node and Temporal SDK versions, for a bug report.
 */
import judgeloopPackage from '../package.json';
import temporalClientPackage from '@temporalio/client/package.json';

export function versionText(env: NodeJS.ProcessEnv = process.env): string {
  const code = env.JUDGELOOP_CODE_VERSION?.trim();
  return [
    `judgeloop ${judgeloopPackage.version}${code ? ` (code ${code})` : ''}`,
    `node ${process.version}, @temporalio/client ${temporalClientPackage.version}`,
  ].join('\n');
}
