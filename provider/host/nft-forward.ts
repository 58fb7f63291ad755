// Kept for existing imports; the PortForward engine lives in nftables.ts.
export {
  addForward, baseScript, decodeComment, encodeComment, forwardRules, forwardSpecSchema, listForwards, PortInUseError, pruneTable, removeForward, TABLE,
  type ForwardSpec,
} from './nftables';
