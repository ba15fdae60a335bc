import { NotFoundError, UserNotFoundError } from '../../errors.js';

/** What a factor id, or the start of one, looks like (`5b49e077`, `5b49e077-6e52`): hex with a digit, in dashed groups. */
const FACTOR_ID_LIKE = /^(?=[^-]*\d)[0-9a-f]{4,}(?:-[0-9a-f]*)*$/i;

/**
 * Runs `fn` (a command taking `USERID ID`), and when the user it names does not exist while that
 * user id looks like a factor id and the id after it does not, says the two go the other way round:
 * `tfa delete 5b49e077 alice` was told only that user 5b49e077@local does not exist.
 */
export async function userBeforeFactor<T>(command: string, userid: { readonly typed: string; readonly id: string }, factorArg: string | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const swapped = FACTOR_ID_LIKE.test(userid.typed) && factorArg !== undefined && !FACTOR_ID_LIKE.test(factorArg);
    if (swapped && e instanceof UserNotFoundError && e.userid === userid.id) {
      throw new NotFoundError(`${e.message} (the user comes first: tfactl ${command} USERID ID)`, e.code);
    }
    throw e;
  }
}
