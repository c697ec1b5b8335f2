import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config';
import { workflowCodeOption } from '../../workers/workflow-bundle';

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'holdfast-bundle-'));

const development = (env: Record<string, string> = {}) =>
  loadConfig({ APP_ENV: 'development', HOLDFAST_DATA_DIR: tempDir(), ...env });

describe('the workflow code a worker runs', () => {
  it('is bundled from workflows/ at start unless a prebuilt bundle is configured', () => {
    expect(development().worker.workflowBundlePath).toBeUndefined();
    expect(workflowCodeOption(undefined)).toEqual({ workflowsPath: require.resolve('../../workflows') });
  });

  it('is the prebuilt bundle WORKFLOW_BUNDLE_PATH names, loaded as it is', () => {
    const bundle = path.join(tempDir(), 'workflow-bundle.js');
    fs.writeFileSync(bundle, '// a bundle');
    const config = development({ WORKFLOW_BUNDLE_PATH: bundle });
    expect(config.worker.workflowBundlePath).toBe(bundle);
    expect(workflowCodeOption(config.worker.workflowBundlePath)).toEqual({ workflowBundle: { codePath: bundle } });
  });

  it('refuses to start on a WORKFLOW_BUNDLE_PATH that does not exist', () => {
    const missing = path.join(tempDir(), 'missing.js');
    expect(() => development({ WORKFLOW_BUNDLE_PATH: missing })).toThrow(ConfigError);
  });
});
