import { describe, expect, it } from 'vitest';
import { SIDECAR_SECURITY_CONTEXT } from '../../src/injector/sidecar.js';
import { CI_VALUES, ciValuesPath, find, renderChart } from './_render.js';

type Container = { name: string; securityContext?: unknown };

/**
 * The chart's webhook container and the injected sidecar run the same image under the same restricted
 * profile; the chart spells it in YAML (_helpers.tpl), the injector in TypeScript (sidecar.ts). This keeps
 * the two equal in every CI values file (issue 16, item 7).
 */
describe("chart securityContext equals the injected sidecar's", () => {
  it.each(CI_VALUES)('%s', async (values) => {
    const objects = await renderChart(['-f', ciValuesPath(values)]);
    const deployment = find(objects, 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Container[] } } };
    };
    const containers = deployment.spec.template.spec.containers;
    expect(containers.length).toBeGreaterThan(0);
    for (const c of containers) expect(c.securityContext, c.name).toEqual(SIDECAR_SECURITY_CONTEXT);
  });
});
