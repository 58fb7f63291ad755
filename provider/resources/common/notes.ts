// Notes for the user that are not errors (a retry, a container adopted after a crash): warnings through the
// provider's warning channel (provider/diagnostics.ts), shown by `pulumi up`/`preview` under Diagnostics.
import { warn } from '../../diagnostics';

export function noteToUser(message: string): void {
  warn(message);
}
