/*
 * handoff.h - run the rest of a chain in a second thread.
 *
 * A restore spends its CPU in three places of one chain: decrypt and zstd -d
 * in front, sha256 and the terminal's write (a pipe to tar or pg_restore, a
 * file) behind.  A handoff sink between them lets the calling thread go on
 * decrypting and decompressing while a worker thread hashes and writes what
 * came before: on two cores the chain then runs at the pace of its slower
 * half instead of the sum of both.
 *
 * write() copies into a few fixed buffers (at most CF_HANDOFF_BYTES in all)
 * and returns as soon as one is free; the worker writes them to next in
 * order.  A failure of next is kept and returned by the following write() or
 * by close(), with next's own message.  close() waits until the worker has
 * written everything, then closes next from the calling thread; abort() stops
 * the worker (what is queued is dropped) before the chain's abort goes on to
 * next.  The worker blocks every signal: SIGTERM, SIGINT and SIGALRM reach the
 * calling thread, whose waits check for cancellation.
 */
#ifndef CF_HANDOFF_H
#define CF_HANDOFF_H

#include "stream/sink.h"

#define CF_HANDOFF_BYTES ((size_t)4 * 1024 * 1024)

/* Wraps next (ownership of next transfers on success). */
cf_err cf_handoff_new(struct cf_sink *next, struct cf_sink **out, struct cf_error *err);

/*
 * Wait until every handoff in the chain from head has passed on what it was
 * given so far (a partly filled buffer included).  For injection points that
 * name a moment of the data flow ("pump-mid": the first buffer went through
 * the chain, so pg_restore or tar has it); the data path never needs it.
 */
void cf_handoff_drain_chain(struct cf_sink *head);

#endif
