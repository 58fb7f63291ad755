#!/usr/bin/env node
// A Node.js language host for the Pulumi CLI, used only where the official Go `pulumi-language-nodejs` cannot be
// built: its module (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not served by the Go
// module proxy reachable here (403 "This module version is not available"), see README "Pulumi CLI".
//
// It speaks the engine's LanguageRuntime gRPC protocol (proto definitions shipped in @pulumi/pulumi) and runs the
// program exactly as the official host does: `node <@pulumi/pulumi>/cmd/run --monitor ... <program>` with the stack
// config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS. The engine, the resource monitor, the program runtime and the
// dynamic-provider host are all the real ones; only this process launcher is ours.
'use strict';
const path = require('node:path');
const { spawn } = require('node:child_process');
const { exitWithParent } = require('./exit-with-parent');

/** Programs running now: killed with this host when the engine is gone (they would only talk to a dead monitor). */
const programs = new Set();
// When the engine is killed (SIGKILL of the CLI), nothing stops this host or the program it runs: both exit here.
exitWithParent(() => {
  for (const child of programs) child.kill('SIGKILL');
});
// The program watches this host the same way, in case this host itself is killed.
const preload = path.join(__dirname, 'exit-with-parent-preload.js');

const projectRoot = path.resolve(__dirname, '..', '..');
const req = (m) => require(require.resolve(m, { paths: [process.cwd(), projectRoot] }));
const grpc = req('@grpc/grpc-js');
const langrpc = req('@pulumi/pulumi/proto/language_grpc_pb');
const langproto = req('@pulumi/pulumi/proto/language_pb');
const plugproto = req('@pulumi/pulumi/proto/plugin_pb');
const emptyproto = req('google-protobuf/google/protobuf/empty_pb');
const pulumiPkgDir = path.dirname(require.resolve('@pulumi/pulumi/package.json', { paths: [process.cwd(), projectRoot] }));
const sdkVersion = require(path.join(pulumiPkgDir, 'package.json')).version;

const unimplemented = (name) => (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: `${name} is not implemented by this language host` });

function structToObject(s) {
  return s && typeof s.toJavaScript === 'function' ? s.toJavaScript() : {};
}

/** Where the program lives: the engine sends ProgramInfo (root dir, program dir, entry point). */
function programPath(request) {
  const info = request.getInfo();
  if (info && info.getProgramDirectory()) {
    const entry = info.getEntryPoint() || '.';
    return path.resolve(info.getProgramDirectory(), entry);
  }
  return path.resolve(request.getPwd() || process.cwd(), request.getProgram() || '.');
}

function run(call, cb) {
  const r = call.request;
  const info = r.getInfo();
  const options = { typescript: true, ...structToObject(info ? info.getOptions() : undefined) };
  const config = {};
  r.getConfigMap().forEach((v, k) => { config[k] = v; });
  const args = [path.join(pulumiPkgDir, 'cmd', 'run'),
    `--monitor=${r.getMonitorAddress()}`, `--engine=${engineAddress}`,
    `--project=${r.getProject()}`, `--stack=${r.getStack()}`, `--organization=${r.getOrganization()}`,
    `--parallel=${r.getParallel()}`, `--pwd=${r.getPwd()}`];
  if (info && info.getRootDirectory()) args.push(`--root-directory=${info.getRootDirectory()}`);
  if (r.getDryrun()) args.push('--dry-run');
  args.push(programPath(r), ...r.getArgsList());
  const nodeArgs = typeof options.nodeargs === 'string' ? options.nodeargs.split(/\s+/).filter(Boolean) : [];
  const env = {
    ...process.env,
    PULUMI_CONFIG: JSON.stringify(config),
    PULUMI_CONFIG_SECRET_KEYS: JSON.stringify(r.getConfigsecretkeysList()),
    PULUMI_NODEJS_TYPESCRIPT: String(options.typescript !== false),
    PROXMOX_PODS_PARENT_PID: String(process.pid),
  };
  if (typeof options.tsconfig === 'string') env.PULUMI_NODEJS_TSCONFIG_PATH = options.tsconfig;
  // stdout/stderr are inherited: the engine turns this plugin's output into the program's diagnostics.
  const child = spawn(process.execPath, ['-r', preload, ...nodeArgs, ...args], { cwd: r.getPwd() || process.cwd(), env, stdio: ['ignore', 'inherit', 'inherit'] });
  programs.add(child);
  child.on('error', (err) => {
    programs.delete(child);
    cb(null, new langproto.RunResponse().setError(`failed to start node: ${err.message}`));
  });
  child.on('exit', (code, signal) => {
    programs.delete(child);
    const res = new langproto.RunResponse();
    // 32: the program already reported a user-actionable error (see @pulumi/pulumi cmd/run).
    if (code === 32) res.setBail(true);
    else if (code !== 0) res.setError(signal ? `Program exited due to signal ${signal}` : `Program exited with non-zero exit code: ${code}`);
    cb(null, res);
  });
}

const service = {
  handshake: unimplemented('Handshake'),
  getRequiredPlugins: (_c, cb) => cb(null, new langproto.GetRequiredPluginsResponse()),
  getRequiredPackages: (_c, cb) => cb(null, new langproto.GetRequiredPackagesResponse()),
  run,
  getPluginInfo: (_c, cb) => cb(null, new plugproto.PluginInfo().setVersion(sdkVersion)),
  installDependencies: (call) => call.end(),
  runtimeOptionsPrompts: (_c, cb) => cb(null, new langproto.RuntimeOptionsResponse()),
  template: unimplemented('Template'),
  about: (_c, cb) => cb(null, new langproto.AboutResponse().setExecutable(process.execPath).setVersion(process.version)),
  getProgramDependencies: (_c, cb) => cb(null, new langproto.GetProgramDependenciesResponse()),
  runPlugin: unimplemented('RunPlugin'),
  generateProgram: unimplemented('GenerateProgram'),
  generateProject: unimplemented('GenerateProject'),
  generatePackage: unimplemented('GeneratePackage'),
  pack: unimplemented('Pack'),
  link: unimplemented('Link'),
  cancel: (_c, cb) => cb(null, new emptyproto.Empty()),
};

// The engine passes flags first and its own gRPC address as the last positional argument.
const positional = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const engineAddress = positional[positional.length - 1] || '';

const server = new grpc.Server({ 'grpc.max_receive_message_length': 400 * 1024 * 1024 });
server.addService(langrpc.LanguageRuntimeService, service);
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) { console.error(err.message); process.exit(1); }
  // The engine reads the port from our first line of stdout.
  process.stdout.write(`${port}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
