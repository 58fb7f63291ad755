// Registry credentials: given by the user (a Pulumi secret), or found in the user's docker config.json
// (`auths.<registry>.auth` = base64 "user:password"). Credential helpers are not run.
import { promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { RegistryAuthError } from '../errors';

export const credentialsSchema = z.object({ username: z.string().min(1), password: z.string() });
export type Credentials = z.infer<typeof credentialsSchema>;

const dockerConfigSchema = z.looseObject({
  auths: z.record(z.string(), z.looseObject({ auth: z.string().optional(), username: z.string().optional(), password: z.string().optional() })).optional(),
});

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json');
}

/** Keys docker and skopeo use for one registry in `auths`. */
function candidateKeys(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === 'docker.io' || registry === 'registry-1.docker.io' || registry === 'index.docker.io') {
    keys.push('https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io');
  }
  return keys;
}

/** Credentials for `registry` from a docker config file, or undefined when it has none for it. */
export async function credentialsFromDockerConfig(registry: string, path = dockerConfigPath()): Promise<Credentials | undefined> {
  let text: string;
  try { text = await fs.readFile(path, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed;
  try { parsed = dockerConfigSchema.parse(JSON.parse(text)); } catch {
    throw new RegistryAuthError(registry, `${path} is not a valid docker config file`);
  }
  const auths = parsed.auths ?? {};
  for (const key of candidateKeys(registry)) {
    const entry = auths[key];
    if (!entry) continue;
    if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new RegistryAuthError(registry, `the "auth" entry for ${key} in ${path} is not base64 of user:password`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
