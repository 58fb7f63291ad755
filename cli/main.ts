// `proxmox-pods <command>`: the emulator, the demo, and image tools.
const USAGE = `usage: proxmox-pods <command> [options]

commands:
  emulator [--port N] [--http-port N] [--nodes N] [--token USER@REALM!ID=UUID] [--task-ms N]
                     serve an emulated Proxmox VE API (HTTPS + HTTP) until interrupted
  demo               start the emulator and run \`pulumi up\` on the quickstart program
  image pull|unpack|inspect|gc ...
                     OCI images: pull into the content store, unpack a rootfs, inspect, gc (image help)
  help               this text
`;

type Command = (argv: string[]) => Promise<number | void>;

const commands: Record<string, () => Promise<Command>> = {
  // Loaded on demand so that `proxmox-pods help` starts fast; require keeps this CommonJS.
  /* eslint-disable @typescript-eslint/no-require-imports -- on-demand loading, typed through `typeof import` */
  emulator: async () => (require('./emulator-command') as typeof import('./emulator-command')).runEmulatorCommand,
  demo: async () => (require('./demo') as typeof import('./demo')).runDemo,
  image: async () => (require('./image-command') as typeof import('./image-command')).runImageCommand,
  /* eslint-enable @typescript-eslint/no-require-imports */
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`proxmox-pods: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return (await (await load())(rest)) ?? 0;
}
