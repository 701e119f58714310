/// <reference path="./.sst/platform/config.d.ts" />

// obelm on AWS. Stage settings live in stacks/settings.ts; resources in infra/. See docs/deploy.md.
export default $config({
  async app(input) {
    const { settingsFor } = await import('./stacks/settings.ts');
    const { protect } = settingsFor(input.stage);
    return {
      name: 'obelm',
      home: 'aws',
      removal: protect ? 'retain' : 'remove',
      protect,
      providers: { aws: '7.48.0' },
    };
  },
  async run() {
    const { deployStage } = await import('./stacks/index.ts');
    return deployStage($app.stage);
  },
});
