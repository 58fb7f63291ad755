// Every name or value that reaches a host command passes one of these first. Commands are argument arrays, so the
// danger is not shell injection but option injection (a leading '-'), nft/dnsmasq script syntax, and names the
// kernel or the tool would reject with a less helpful message. Each validator is a zod schema (for resource
// schemas) plus an assert function that throws InputError naming the field.
import { z } from 'zod';
import { InputError } from '../errors';

const IPV4_OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}$`);
/** Patterns for schemas that want their own messages (resource inputs). */
export const IPV4_RE = IPV4;
export const IPV4_CIDR_RE = new RegExp(`^${IPV4_OCTET}(\\.${IPV4_OCTET}){3}/(3[0-2]|[12]?\\d)$`);
export const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Linux interface names: IFNAMSIZ-1 = 15 bytes; '/' and whitespace are invalid, ':' is alias syntax. */
export const ifaceNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,15}$/, { message: 'must be 1–15 characters of [A-Za-z0-9_.-]' })
  .refine((s) => !s.startsWith('-') && s !== '.' && s !== '..', { message: 'must not start with "-" or be "." / ".."' });

/** nft table/chain identifiers: nft's own lexer accepts [a-zA-Z_][a-zA-Z0-9_]* for unquoted names we emit. */
export const nftIdentifierSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { message: 'must be 1–64 of [A-Za-z0-9_], starting with a letter or "_"' });

/** One DNS label (RFC 1123 host label, lower case as we generate them). */
export const dnsLabelSchema = z.string().regex(DNS_LABEL_RE, { message: 'must be a DNS label: 1–63 of [a-z0-9-], not starting or ending with "-"' });

/** A DNS zone / FQDN without the trailing dot: labels joined by '.', at most 253 characters. */
export const dnsZoneSchema = z
  .string()
  .max(253, { message: 'must be at most 253 characters' })
  .refine((s) => s.split('.').every((l) => dnsLabelSchema.safeParse(l).success), { message: 'must be dot-separated DNS labels of [a-z0-9-] (1–63 each, no leading/trailing "-")' });

export const portSchema = z.number({ message: 'must be a number' }).int({ message: 'must be an integer' }).min(1, { message: 'must be 1–65535' }).max(65535, { message: 'must be 1–65535' });

export const ipv4Schema = z.string().regex(IPV4, { message: 'must be an IPv4 address in dotted-quad form (e.g. 10.0.0.5)' });

export const cidr4Schema = z.string().refine(
  (s) => {
    const [ip, len, ...rest] = s.split('/');
    return rest.length === 0 && ip !== undefined && IPV4.test(ip) && len !== undefined && /^(3[0-2]|[12]?\d)$/.test(len);
  },
  { message: 'must be an IPv4 CIDR such as 10.0.0.0/24' },
);

/** Parses `value` with `schema`, or throws InputError naming `field` and the first problem. */
export function validate<S extends z.ZodType>(schema: S, field: string, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
  throw new InputError(field, `${shown} ${r.error.issues[0]?.message ?? 'is invalid'}`);
}

export const assertIfaceName = (field: string, v: unknown): string => validate(ifaceNameSchema, field, v);
export const assertNftIdentifier = (field: string, v: unknown): string => validate(nftIdentifierSchema, field, v);
export const assertDnsLabel = (field: string, v: unknown): string => validate(dnsLabelSchema, field, v);
export const assertDnsZone = (field: string, v: unknown): string => validate(dnsZoneSchema, field, v);
export const assertPort = (field: string, v: unknown): number => validate(portSchema, field, v);
export const assertIpv4 = (field: string, v: unknown): string => validate(ipv4Schema, field, v);
export const assertCidr4 = (field: string, v: unknown): string => validate(cidr4Schema, field, v);
