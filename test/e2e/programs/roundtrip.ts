// An e2e program for round trips: pods and StatefulSets from stack config (`pods`, `sets`: JSON), so a test can
// generate many valid inputs and "edit the program" by setting config.
import * as pulumi from '@pulumi/pulumi';
import { Pod, StatefulSet, type PodArgs, type StatefulSetArgs } from '../../../sdk';

const cfg = new pulumi.Config();
// `envFromIp: { VAR: "<earlier pod>" }` sets VAR to that pod's address, as a program wiring a worker to a web tier would.
const pods = JSON.parse(cfg.get('pods') ?? '{}') as Record<string, PodArgs & { envFromIp?: Record<string, string> }>;
const made: Record<string, Pod> = {};
const sets = JSON.parse(cfg.get('sets') ?? '{}') as Record<string, StatefulSetArgs>;
const out: Record<string, pulumi.Output<unknown>> = {};
for (const [name, { envFromIp, ...args }] of Object.entries(pods)) {
  const wired = Object.fromEntries(Object.entries(envFromIp ?? {}).map(([k, from]) => [k, pulumi.interpolate`http://${made[from]!.ip}:8080`]));
  const pod = new Pod(name, { ...args, env: { ...(args.env as Record<string, string> | undefined), ...wired } });
  made[name] = pod;
  out[`${name}Vmid`] = pod.vmid;
  out[`${name}Ip`] = pod.ip;
}
for (const [name, args] of Object.entries(sets)) {
  const set = new StatefulSet(name, args);
  set.pods.forEach((p, i) => (out[`${name}${i}Ip`] = p.ip));
}
export const values = out;
