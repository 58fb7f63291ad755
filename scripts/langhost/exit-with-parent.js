// Makes this Node.js process exit soon after the process that started it is gone.
//
// The Pulumi engine starts the language host and the dynamic-provider host as its children and, on a normal exit,
// stops them itself. When the CLI is killed (SIGKILL, a closed laptop, a cancelled CI job) nothing stops them: they
// are re-parented (to init or a subreaper) and would go on running the program and creating containers that no
// checkpoint will ever record. Linux tells a process nothing when its parent dies (PR_SET_PDEATHSIG is not reachable
// from Node), so the parent pid is polled: `process.ppid` is read from the kernel on every access (uv_os_getppid).
//
// Loaded three ways: required by the language host itself, preloaded (`node -r ./exit-with-parent-preload.js`) into
// the program it runs, and preloaded into @pulumi/pulumi's cmd/dynamic-provider by scripts/langhost/pulumi-resource-pulumi-nodejs. The poll
// interval is PROXMOX_PODS_PARENT_POLL_MS (default 500 ms).
'use strict';

const DEFAULT_POLL_MS = 500;

function pollMs() {
  const n = Number(process.env.PROXMOX_PODS_PARENT_POLL_MS);
  return Number.isInteger(n) && n >= 50 && n <= 60_000 ? n : DEFAULT_POLL_MS;
}

/**
 * Starts the watch once per process. `onParentGone` runs before the exit (kill children, say why); the exit code is
 * 1 in any case: the run did not end normally.
 */
function exitWithParent(onParentGone) {
  if (global.__proxmoxPodsParentWatch) {
    if (onParentGone) global.__proxmoxPodsParentWatch.hooks.push(onParentGone);
    return global.__proxmoxPodsParentWatch;
  }
  // The launcher may name the parent it meant (PROXMOX_PODS_PARENT_PID): if that one died before this process even
  // started (the plugin wrapper resolves @pulumi/pulumi first, which takes a moment), ppid is already the reaper's.
  // Read once and removed, so this process's own children do not inherit it.
  const expected = Number(process.env.PROXMOX_PODS_PARENT_PID);
  delete process.env.PROXMOX_PODS_PARENT_PID;
  const parent = Number.isInteger(expected) && expected > 1 ? expected : process.ppid;
  const watch = {
    parent,
    hooks: onParentGone ? [onParentGone] : [],
    /** True once the process that started this one is gone. */
    gone: () => process.ppid !== parent,
  };
  global.__proxmoxPodsParentWatch = watch;
  // Started by init itself (a daemon, ppid 1): there is no parent whose death could be seen.
  if (parent <= 1) return watch;
  const timer = setInterval(() => {
    if (!watch.gone()) return;
    clearInterval(timer);
    try {
      process.stderr.write(`proxmox-pods: the process that started ${process.title} (pid ${process.pid}) is gone (was pid ${parent}); exiting so no work continues without it\n`);
    } catch {
      // stderr may be a pipe whose reader died with the parent: exiting matters more than the message.
    }
    for (const hook of watch.hooks) {
      try {
        hook();
      } catch {
        // A failing hook must not keep the process alive.
      }
    }
    process.exit(1);
  }, pollMs());
  timer.unref(); // never the reason the process stays alive
  return watch;
}

module.exports = { exitWithParent };
