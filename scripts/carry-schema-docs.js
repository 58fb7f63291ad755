#!/usr/bin/env node
// Carries the JSDoc of zod schema fields into the compiled declarations, so that the SDK's Args types (derived from the
// schemas with z.input) show each input's documentation and @default on hover in a user's editor.
//
// Why this step exists: tsc prints the inferred type of `export const s = z.object({ /** doc */ a: … })` as
// `ZodObject<{ a: …; }>` without the comment (z.object maps the shape through a mapped type, whose properties have
// no value declaration for the declaration printer to copy comments from; typescript checker.ts
// addPropertyToElementList / preserveCommentsOn). In the sources the comments do reach hover text; in dist/*.d.ts
// they are gone. This script asks the type checker, on the sources, for every field's documentation (following
// schemas reused from other constants and files, and fields written as another schema's field), then writes it above
// the same field in the .d.ts: the package's declarations are where the user reads them.
//
// Usage: node scripts/carry-schema-docs.js <tsconfig.json> (after tsc; idempotent: documented fields are skipped).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const ts = require('typescript');

const MAX_DEPTH = 16;

/** Documentation of every field of a zod schema type, keyed by its path of field names ("network.ip"). */
function schemaDocs(checker, type) {
  const docs = new Map();
  const seen = new Set();
  const walk = (t, prefix, depth) => {
    if (!t || depth > MAX_DEPTH || seen.has(t)) return;
    seen.add(t);
    const shapeSymbol = t.getProperty && t.getProperty('shape');
    const isZod = t.getProperty && t.getProperty('_zod');
    if (isZod && shapeSymbol) {
      const shape = checker.getTypeOfSymbol(shapeSymbol);
      for (const prop of shape.getProperties()) {
        const key = prefix ? `${prefix}.${prop.name}` : prop.name;
        const doc = fieldDoc(checker, prop);
        if (doc && !docs.has(key)) docs.set(key, doc);
        walk(checker.getTypeOfSymbol(prop), key, depth + 1);
      }
      return;
    }
    // Wrappers (ZodOptional, ZodDefault, ZodArray, ZodUnion's tuple, ZodPipe…): the inner schemas are type arguments.
    if (t.isUnion && t.isUnion()) for (const u of t.types) walk(u, prefix, depth + 1);
    const args = t.aliasTypeArguments || (t.target ? checker.getTypeArguments(t) : []);
    for (const a of args) walk(a, prefix, depth + 1);
  };
  walk(type, '', 0);
  return docs;
}

/**
 * A field's own JSDoc; for a field written as another schema's field (`cores: podShape.cores`, `listen:
 * service.listen`) without a comment of its own, that field's JSDoc, so a schema that reuses fields documents them
 * once, where they are defined.
 */
function fieldDoc(checker, prop, depth = 0) {
  const text = ts.displayPartsToString(prop.getDocumentationComment(checker)).trim();
  const tags = prop.getJsDocTags(checker).map((tag) => `@${tag.name}${tag.text ? ` ${ts.displayPartsToString(tag.text)}` : ''}`);
  if (text || tags.length) return { text, tags };
  const decl = (prop.declarations || []).find(ts.isPropertyAssignment);
  if (!decl || depth > 4 || !ts.isPropertyAccessExpression(decl.initializer)) return undefined;
  const source = checker.getSymbolAtLocation(decl.initializer.name);
  return source && source !== prop ? fieldDoc(checker, source, depth + 1) : undefined;
}

function jsdoc({ text, tags }, indent) {
  const lines = [...(text ? text.split('\n') : []), ...tags.flatMap((t) => t.split('\n'))];
  return `/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join('\n')}\n${indent} */\n${indent}`;
}

/** Insertions for one .d.ts: each documented field of each exported zod constant that has no comment yet. */
function patchDeclarationFile(dtsText, docsByConst) {
  const sf = ts.createSourceFile('x.d.ts', dtsText, ts.ScriptTarget.Latest, true);
  const inserts = [];
  const visit = (node, prefix, docs) => {
    if (ts.isPropertySignature(node) && node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name))) {
      const key = prefix ? `${prefix}.${node.name.text}` : node.name.text;
      const doc = docs.get(key);
      const hasComment = (ts.getLeadingCommentRanges(dtsText, node.pos) || []).some((c) => dtsText.slice(c.pos, c.pos + 3) === '/**');
      if (doc && !hasComment) {
        const start = node.getStart(sf);
        const indent = dtsText.slice(dtsText.lastIndexOf('\n', start - 1) + 1, start);
        inserts.push({ at: start, text: jsdoc(doc, /^\s*$/.test(indent) ? indent : '') });
      }
      if (node.type) visit(node.type, key, docs);
      return;
    }
    ts.forEachChild(node, (child) => visit(child, prefix, docs));
  };
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    for (const decl of stmt.declarationList.declarations) {
      const docs = ts.isIdentifier(decl.name) && docsByConst.get(decl.name.text);
      if (docs && decl.type) visit(decl.type, '', docs);
    }
  }
  let out = dtsText;
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, at) + text + out.slice(at);
  return { text: out, count: inserts.length };
}

function main() {
  const configPath = path.resolve(process.argv[2] || 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  const { rootDir, outDir } = parsed.options;
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: { ...parsed.options, noEmit: true } });
  const checker = program.getTypeChecker();
  let files = 0;
  let fields = 0;
  for (const sf of program.getSourceFiles()) {
    if (sf.isDeclarationFile || !parsed.fileNames.includes(sf.fileName)) continue;
    const moduleSymbol = checker.getSymbolAtLocation(sf);
    if (!moduleSymbol) continue;
    const docsByConst = new Map();
    for (const exp of checker.getExportsOfModule(moduleSymbol)) {
      if (!(exp.flags & ts.SymbolFlags.Variable)) continue;
      const docs = schemaDocs(checker, checker.getTypeOfSymbol(exp));
      if (docs.size) docsByConst.set(exp.name, docs);
    }
    if (!docsByConst.size) continue;
    const dts = path.join(outDir, path.relative(rootDir, sf.fileName)).replace(/\.ts$/, '.d.ts');
    if (!fs.existsSync(dts)) throw new Error(`carry-schema-docs: ${dts} is missing; run tsc -p ${path.relative(process.cwd(), configPath)} first`);
    const { text, count } = patchDeclarationFile(fs.readFileSync(dts, 'utf8'), docsByConst);
    if (count) {
      fs.writeFileSync(dts, text);
      files++;
      fields += count;
    }
  }
  process.stderr.write(`carry-schema-docs: ${fields} field comments written into ${files} declaration files\n`);
}

if (require.main === module) main();
module.exports = { schemaDocs, patchDeclarationFile };
