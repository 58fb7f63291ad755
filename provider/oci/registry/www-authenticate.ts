// RFC 7235 challenge parsing. Quoted values may contain commas (scope="repository:a:pull,push"), and one
// header may carry several challenges.
export interface Challenge { scheme: string; params: Record<string, string> }

export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  const text = Array.isArray(header) ? header.join(', ') : header ?? '';
  const out: Challenge[] = [];
  let i = 0;
  const skip = (re: RegExp) => { while (i < text.length && re.test(text[i]!)) i++; };
  const token = (): string => {
    const start = i;
    while (i < text.length && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < text.length) {
    skip(/[\s,]/);
    if (i >= text.length) break;
    const start = i;
    const name = token();
    if (!name) { i++; continue; }
    skip(/[ \t]/);
    if (text[i] === '=' && current) {
      i++;
      skip(/[ \t]/);
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++;
          value += text[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      current.params[name.toLowerCase()] = value;
    } else {
      // A token not followed by '=' starts a new challenge (token68 forms are not used by registries).
      if (text[i] === '=') { i = start; }
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
