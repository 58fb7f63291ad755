// Route table lookup: template paths with `{var}` segments and an optional trailing `{var*}`.
import type { Method, Route } from './core';

interface Compiled {
  route: Route;
  segments: string[];
  tail?: string;
}

export class Router {
  private readonly compiled: Compiled[] = [];

  add(routes: Route[]): void {
    for (const route of routes) {
      const segments = route.path.split('/').filter(Boolean);
      const last = segments[segments.length - 1];
      const tail = last && /^\{(\w[\w-]*)\*\}$/.exec(last)?.[1];
      this.compiled.push(tail ? { route, segments: segments.slice(0, -1), tail } : { route, segments });
    }
  }

  /** Returns the route and path variables, or whether the path exists under another method. */
  match(method: Method, path: string): { route: Route; vars: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const c of this.compiled) {
      if (c.route.method !== method) continue;
      const vars = matchSegments(c, parts);
      if (vars) return { route: c.route, vars };
    }
    return undefined;
  }
}

function matchSegments(c: Compiled, parts: string[]): Record<string, string> | undefined {
  if (c.tail ? parts.length <= c.segments.length : parts.length !== c.segments.length) return undefined;
  const vars: Record<string, string> = {};
  for (let i = 0; i < c.segments.length; i++) {
    const seg = c.segments[i]!;
    const part = parts[i]!;
    const v = /^\{(\w[\w-]*)\}$/.exec(seg);
    if (v) vars[v[1]!] = part;
    else if (seg !== part) return undefined;
  }
  if (c.tail) vars[c.tail] = parts.slice(c.segments.length).join('/');
  return vars;
}
