// An e2e program whose pods come from stack config (`pods`: JSON), so a test can "edit the program" by setting config.
import * as pulumi from '@pulumi/pulumi';
import { Pod, type PodArgs } from '../../../sdk';

const specs = JSON.parse(new pulumi.Config().require('pods')) as Record<string, PodArgs>;
const out: Record<string, pulumi.Output<unknown>> = {};
for (const [name, args] of Object.entries(specs)) {
  const pod = new Pod(name, args);
  out[`${name}Vmid`] = pod.vmid;
  out[`${name}Ip`] = pod.ip;
  out[`${name}Status`] = pod.status;
}
export const pods = out;
