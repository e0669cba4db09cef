/**
 * A problem with a model folder's files, in words a user can act on: the file it is in, what is
 * wrong, and what to do. The model step turns it into a located input error (exit 2) that points at
 * the recipe's model key or at --model.
 */
export class ModelFileProblem extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}
