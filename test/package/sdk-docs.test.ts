// Every SDK input is documented where the user reads it: the hover text of each field of each Args type (nested
// fields included) is not empty, and a field whose zod schema has a default says it with a matching `@default`.
// Read through the TypeScript language service, the way an editor does, from the compiled declarations in dist/ —
// what the package ships (the packed-package test checks they are in the tarball) — after
// scripts/carry-schema-docs.js has carried the schemas' JSDoc into them (npm run build / the bootstrap run it).
import * as path from 'node:path';
import * as ts from 'typescript';
import type { z } from 'zod';
import { REPO_ROOT } from '../../cli/pulumi-workspace';
import { ociImageInputsSchema } from '../../provider/resources/oci-image/schema';
import { podInputsSchema } from '../../provider/resources/pod/schema';
import { statefulSetPodInputsSchema } from '../../provider/resources/statefulset-pod/schema';
import { statefulSetArgsSchema } from '../../provider/resources/statefulset-pod/set-args';
import { persistentVolumeInputsSchema } from '../../provider/resources/persistent-volume/schema';
import { headlessServiceInputsSchema } from '../../provider/resources/headless-service/schema';
import { deploymentBridgeInputsSchema } from '../../provider/resources/deployment-bridge/schema';
import { portForwardInputsSchema } from '../../provider/resources/port-forward';

jest.setTimeout(120_000);

const ARGS: Record<string, z.ZodType> = {
  PodArgs: podInputsSchema,
  StatefulSetPodArgs: statefulSetPodInputsSchema,
  StatefulSetArgs: statefulSetArgsSchema,
  PersistentVolumeArgs: persistentVolumeInputsSchema,
  HeadlessServiceArgs: headlessServiceInputsSchema,
  OciImageArgs: ociImageInputsSchema,
  DeploymentBridgeArgs: deploymentBridgeInputsSchema,
  PortForwardArgs: portForwardInputsSchema,
};

const PROBE = path.join(REPO_ROOT, 'dist', 'sdk', '__docs_probe__.ts');
const PROBE_TEXT = `import type { ${Object.keys(ARGS).join(', ')} } from './index';
export const pod: PodArgs = { image: 'local:vztmpl/x.tar.zst', cores: 2, rootfs: { sizeGiB: 8 } };
export type All = [${Object.keys(ARGS).join(', ')}];
`;

let service: ts.LanguageService;

beforeAll(() => {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(REPO_ROOT, 'tsconfig.build.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const files = [PROBE];
  const host: ts.LanguageServiceHost = {
    getScriptFileNames: () => files,
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => {
      const text = f === PROBE ? PROBE_TEXT : ts.sys.readFile(f);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => REPO_ROOT,
    getCompilationSettings: () => config.options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: (f) => f === PROBE || ts.sys.fileExists(f),
    readFile: (f) => (f === PROBE ? PROBE_TEXT : ts.sys.readFile(f)),
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  service = ts.createLanguageService(host, ts.createDocumentRegistry());
});

interface FieldDoc {
  text: string;
  tags: Record<string, string>;
}

/** Every field of an Args type, by path, with its hover documentation. Pulumi's Input wrappers are looked through. */
function argsFields(checker: ts.TypeChecker, type: ts.Type): Map<string, FieldDoc> {
  const out = new Map<string, FieldDoc>();
  const seen = new Set<ts.Type>();
  const value = (t: ts.Type, key: string, depth: number) => {
    for (const u of t.isUnion() ? t.types : [t]) {
      if (depth > 8 || seen.has(u) || u.flags & SCALAR) continue;
      const name = u.getSymbol()?.getName();
      // Promises and Outputs a field also accepts are values the program computes, not fields the user writes.
      if (name === 'Promise' || name === 'OutputInstance' || name === 'PromiseLike') continue;
      if (u.isIntersection() && u.types.some((x) => x.getSymbol()?.getName() === 'OutputInstance')) continue;
      if (checker.isArrayType(u) || checker.isTupleType(u) || name === 'ReadonlyArray') {
        for (const a of checker.getTypeArguments(u as ts.TypeReference)) value(a, `${key}[]`, depth + 1);
        continue;
      }
      seen.add(u);
      fields(u, key, depth + 1);
    }
  };
  const fields = (t: ts.Type, prefix: string, depth: number) => {
    for (const prop of checker.getPropertiesOfType(t)) {
      const key = prefix ? `${prefix}.${prop.name}` : prop.name;
      const tags = Object.fromEntries(prop.getJsDocTags(checker).map((tag) => [tag.name, ts.displayPartsToString(tag.text).trim()]));
      if (!out.has(key)) out.set(key, { text: ts.displayPartsToString(prop.getDocumentationComment(checker)).trim(), tags });
      value(checker.getTypeOfSymbol(prop), key, depth);
    }
  };
  fields(type, '', 0);
  return out;
}

/** Paths of the fields that have a default in a zod schema, with the default value. */
function schemaDefaults(schema: z.ZodType): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (s: z.ZodType, key: string) => {
    const def = (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
    switch (def.type) {
      case 'default':
        out.set(key, def.defaultValue);
        walk(def.innerType as z.ZodType, key);
        break;
      case 'optional':
      case 'nullable':
      case 'readonly':
        walk(def.innerType as z.ZodType, key);
        break;
      case 'pipe':
        walk(def.in as z.ZodType, key);
        break;
      case 'array':
        walk(def.element as z.ZodType, `${key}[]`);
        break;
      case 'union':
        for (const o of def.options as z.ZodType[]) walk(o, key);
        break;
      case 'object':
        for (const [k, v] of Object.entries(def.shape as Record<string, z.ZodType>)) walk(v, key ? `${key}.${k}` : k);
        break;
    }
  };
  walk(schema, '');
  return out;
}

const SCALAR =
  ts.TypeFlags.StringLike | ts.TypeFlags.NumberLike | ts.TypeFlags.BooleanLike | ts.TypeFlags.BigIntLike | ts.TypeFlags.ESSymbolLike |
  ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Void | ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never;
const unquote = (s: string) => s.replace(/^[`"']|[`"']$/g, '');

test('every field of every SDK Args type has hover text, and @default where the schema has a default', () => {
  const program = service.getProgram()!;
  const checker = program.getTypeChecker();
  const probe = program.getSourceFile(PROBE)!;
  const missing: string[] = [];
  const wrongDefaults: string[] = [];
  let counted = 0;
  for (const [argsName, schema] of Object.entries(ARGS)) {
    const alias = checker.getSymbolsInScope(probe, ts.SymbolFlags.Alias).find((s) => s.name === argsName)!;
    const type = checker.getDeclaredTypeOfSymbol(checker.getAliasedSymbol(alias));
    const fields = argsFields(checker, type);
    expect(fields.size).toBeGreaterThan(2);
    counted += fields.size;
    for (const [key, doc] of fields) if (!doc.text) missing.push(`${argsName}.${key}`);
    for (const [key, value] of schemaDefaults(schema)) {
      const doc = fields.get(key);
      if (!doc) continue; // a field the SDK leaves out (derived by check())
      const given = doc.tags.default;
      const ok = given !== undefined && (typeof value === 'object' ? given !== '' : unquote(given) === String(value));
      if (!ok) wrongDefaults.push(`${argsName}.${key}: schema default ${JSON.stringify(value)}, @default ${given ?? '(none)'}`);
    }
  }
  expect(missing).toEqual([]);
  expect(wrongDefaults).toEqual([]);
  expect(counted).toBeGreaterThan(150);
});

test('an editor hovering over a field sees its documentation and default', () => {
  const at = (needle: string) => PROBE_TEXT.indexOf(needle) + 1;
  const cores = service.getQuickInfoAtPosition(PROBE, at('cores'))!;
  expect(ts.displayPartsToString(cores.documentation)).toMatch(/CPU cores/);
  expect(cores.tags?.find((t) => t.name === 'default')?.text?.map((p) => p.text).join('')).toBe('1');
  const size = service.getQuickInfoAtPosition(PROBE, at('sizeGiB'))!;
  expect(ts.displayPartsToString(size.documentation)).toMatch(/GiB/);
  expect(size.tags?.find((t) => t.name === 'default')?.text?.map((p) => p.text).join('')).toBe('4');
});
