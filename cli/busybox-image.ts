// An application image built offline from Debian's busybox-static (the demo and the runtime tests use it): a shell init that writes what it sees (uid, gid,
// groups, working directory, hostname, environment) into a page and serves it with busybox httpd. The image sets a
// non-root User, WorkingDir, Env and StopSignal (SIGUSR1, which the init traps: SIGTERM would be ignored by a PID 1
// without a handler, so a clean stop proves the CT got the image's stop signal).
import { promises as fs } from 'node:fs';
import { buildImage, makeTar, writeArchive, writeLayout, type BuiltImage, type TarEntrySpec } from '../provider/oci/layout/writer';

export const BUSYBOX = '/bin/busybox';
export const APP_PORT = 8080;

const APPLETS = ['sh', 'id', 'env', 'sort', 'sed', 'hostname', 'httpd', 'sleep', 'cat', 'echo', 'ls', 'mkdir', 'date'];

/** The init: reports at start, then serves /srv (its own copy of the data volume's marker if mounted at /data). */
const SERVE = `#!/bin/sh
trap 'echo "stop signal received"; exit 0' USR1
mkdir -p /srv
{
  echo "uid=$(id -u)"
  echo "gid=$(id -g)"
  echo "groups=$(id -G)"
  echo "cwd=$(pwd)"
  echo "hostname=$(hostname)"
  env | sort | sed 's/^/env /'
  [ -f /data/marker ] && echo "data=$(cat /data/marker)"
} > /srv/index.html
httpd -p ${APP_PORT} -h /srv
while :; do sleep 1 & wait $!; done
`;

export interface AppImageOptions {
  /** Changes the image's bytes (a "new version") without changing its behaviour. */
  version?: string;
  user?: string;
}

export async function busyboxAppImage(opts: AppImageOptions = {}): Promise<BuiltImage> {
  const busybox = await fs.readFile(BUSYBOX);
  const base: TarEntrySpec[] = [
    { name: 'bin/', type: 'directory' },
    { name: 'bin/busybox', content: busybox, mode: 0o755 },
    ...APPLETS.map((a): TarEntrySpec => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'etc/', type: 'directory' },
    { name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' },
    { name: 'etc/group', content: 'root:x:0:\napp:x:1000:\nweb:x:1500:app\n' },
    { name: 'proc/', type: 'directory' }, { name: 'sys/', type: 'directory' }, { name: 'dev/', type: 'directory' },
    { name: 'tmp/', type: 'directory', mode: 0o1777 },
    { name: 'srv/', type: 'directory', uid: 1000, gid: 1000 },
    { name: 'home/', type: 'directory' }, { name: 'home/app/', type: 'directory', uid: 1000, gid: 1000 },
  ];
  const app: TarEntrySpec[] = [
    { name: 'app/', type: 'directory' },
    { name: 'app/serve', content: SERVE, mode: 0o755 },
    { name: 'app/VERSION', content: `${opts.version ?? 'v1'}\n` },
  ];
  return buildImage({
    layers: [{ tar: await makeTar(base), compression: 'gzip' }, { tar: await makeTar(app), compression: 'zstd' }],
    runtime: {
      Entrypoint: ['/app/serve'],
      Env: ['PATH=/bin', 'GREETING=hello from the image', 'APP_MODE=image', `APP_VERSION=${opts.version ?? 'v1'}`],
      User: opts.user ?? 'app',
      WorkingDir: '/app',
      StopSignal: 'SIGUSR1',
      ExposedPorts: { [`${APP_PORT}/tcp`]: {} },
      Volumes: { '/data': {} },
    },
  });
}

/** The image as a single-image OCI archive (what `skopeo copy … oci-archive:` gives). */
export async function writeAppArchive(file: string, image: BuiltImage): Promise<Buffer> {
  await writeArchive(file, [{ image }]);
  return fs.readFile(file);
}

export async function writeAppLayout(dir: string, image: BuiltImage, tag: string): Promise<string> {
  await writeLayout(dir, [{ image, tag }]);
  return `oci-layout:${dir}:${tag}`;
}
