// Tool availability for OCI suites: in CI a missing tool fails the suite; elsewhere it is skipped visibly.
import { execFileSync } from 'node:child_process';

export function hasTool(name: string): boolean {
  try { execFileSync('which', [name], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** True when every tool is present. In CI throws instead of returning false. */
export function requireTools(suite: string, tools: string[]): boolean {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return true;
  const message = `${suite}: missing ${missing.join(', ')} (apt-get install -y docker-registry skopeo umoci; see scripts/apt-packages.txt)`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(message);
  console.warn(`SKIPPED ${message}`);
  return false;
}
