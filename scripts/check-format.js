#!/usr/bin/env node
// The whitespace rules of .editorconfig, checked over every file git tracks or would track (ignored files are not
// ours): LF line ends, no trailing whitespace, a final newline, and no tab indentation in code, JSON, YAML or
// Markdown. Part of `npm run lint`. A formatter would fix these; this only reports, file:line, and exits 1.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f && fs.existsSync(path.join(root, f)));
// Generated or third-party text that keeps its own form.
const skip = (f) => f === 'package-lock.json' || f === 'LICENSE' || f.startsWith('bench/results/');
const noTabs = (f) => /\.(ts|js|mjs|cjs|json|ya?ml|md)$/.test(f);

const problems = [];
for (const file of files) {
  if (skip(file)) continue;
  const buf = fs.readFileSync(path.join(root, file));
  if (buf.includes(0)) continue; // binary
  const text = buf.toString('utf8');
  if (text.length && !text.endsWith('\n')) problems.push(`${file}: no newline at the end`);
  text.split('\n').forEach((line, i) => {
    if (line.endsWith('\r')) problems.push(`${file}:${i + 1}: CRLF line end`);
    else if (/[ \t]$/.test(line)) problems.push(`${file}:${i + 1}: trailing whitespace`);
    if (noTabs(file) && /^\s*\t/.test(line)) problems.push(`${file}:${i + 1}: tab indentation`);
  });
}
if (problems.length) {
  process.stderr.write(`${problems.join('\n')}\ncheck-format: ${problems.length} problem(s); see .editorconfig\n`);
  process.exit(1);
}
process.stderr.write(`check-format: ${files.length} files follow .editorconfig\n`);
