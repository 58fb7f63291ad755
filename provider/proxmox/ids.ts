// Proxmox VE identifiers, one definition each: every schema and every URL builder checks against these.

/** A PVE node name (a hostname label). */
export const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
/** A storage id (`local`, `local-zfs`). */
export const STORAGE_RE = /^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$/;
/** A volume id on a storage (`local:vztmpl/x.tar.zst`, `local-zfs:subvol-100-disk-0`). */
export const VOLID_RE = /^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]:\S+$/;
