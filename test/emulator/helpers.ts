// Raw HTTP helpers for emulator tests: plain fetch over HTTP, undici with the emulator's CA over HTTPS.
import { Agent, fetch as undiciFetch } from 'undici';
import type { RunningEmulator } from '../../emulator';

export interface Resp {
  status: number;
  reason: string;
  contentType: string | null;
  text: string;
  json: any;
  headers: Headers;
}

export interface CallOptions {
  form?: Record<string, string>;
  json?: unknown;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  auth?: 'token' | 'none' | { token: string } | { ticket: string; csrf?: string };
  https?: boolean;
  rawBody?: { body: Buffer | string; contentType: string };
}

export class Client {
  private agent?: Agent;
  constructor(readonly emu: RunningEmulator) {}

  async call(method: string, path: string, o: CallOptions = {}): Promise<Resp> {
    const base = o.https ? this.emu.url : this.emu.httpUrl!;
    const qs = o.query ? `?${new URLSearchParams(o.query)}` : '';
    const headers: Record<string, string> = { ...o.headers };
    const auth = o.auth ?? 'token';
    if (auth === 'token') headers['Authorization'] = `PVEAPIToken=${this.emu.token}`;
    else if (auth !== 'none' && 'token' in auth) headers['Authorization'] = `PVEAPIToken=${auth.token}`;
    else if (auth !== 'none' && 'ticket' in auth) {
      headers['Cookie'] = `PVEAuthCookie=${encodeURIComponent(auth.ticket)}`;
      if (auth.csrf) headers['CSRFPreventionToken'] = auth.csrf;
    }
    let body: string | Buffer | undefined;
    if (o.form) {
      body = new URLSearchParams(o.form).toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    } else if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['Content-Type'] = 'application/json';
    } else if (o.rawBody) {
      body = o.rawBody.body;
      headers['Content-Type'] = o.rawBody.contentType;
    }
    if (o.https) this.agent ??= new Agent({ connect: { ca: this.emu.caCertPem } });
    const res = await undiciFetch(`${base}/api2/json${path}${qs}`, { method, headers, body, ...(o.https ? { dispatcher: this.agent } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, reason: res.statusText, contentType: res.headers.get('content-type'), text, json, headers: res.headers as unknown as Headers };
  }

  async data(method: string, path: string, o: CallOptions = {}): Promise<any> {
    const r = await this.call(method, path, o);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.reason} ${r.text}`);
    return r.json.data;
  }

  /** Poll a task until it stops; returns its status object. */
  async waitTask(node: string, upid: string, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.data('GET', `/nodes/${node}/tasks/${upid}/status`);
      if (s.status === 'stopped') return s;
      if (Date.now() > deadline) throw new Error(`task ${upid} still running`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async close(): Promise<void> {
    await this.agent?.close();
  }
}

export const TEMPLATE = 'local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst';

/** Create a CT and wait for the create task. */
export async function createCt(c: Client, vmid: number, extra: Record<string, string> = {}, node = 'pve'): Promise<void> {
  const upid = await c.data('POST', `/nodes/${node}/lxc`, { form: { vmid: String(vmid), ostemplate: TEMPLATE, rootfs: 'local-zfs:4', ...extra } });
  const st = await c.waitTask(node, upid);
  if (st.exitstatus !== 'OK') throw new Error(`create ${vmid}: ${st.exitstatus}`);
}

export async function startCt(c: Client, vmid: number, node = 'pve'): Promise<void> {
  const upid = await c.data('POST', `/nodes/${node}/lxc/${vmid}/status/start`);
  const st = await c.waitTask(node, upid);
  if (st.exitstatus !== 'OK') throw new Error(`start ${vmid}: ${st.exitstatus}`);
}
