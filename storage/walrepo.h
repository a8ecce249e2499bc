/*
 * walrepo.h - where WAL files live in the repository, and their I/O.
 *
 *   <instance>/wal/<TTTTTTTTLLLLLLLL>/<file>-<sha256>   segments, backup history files
 *   <instance>/wal/<TTTTTTTTLLLLLLLL>/<segment>.partial.<OOOOOOOO>-<sha256>
 *                                                       the first 0xOOOOOOOO bytes of a
 *                                                       segment still being written (wal-stream)
 *   <instance>/wal/history/<TTTTTTTT>.history-<sha256>  timeline history files
 *
 * <sha256> is the hex digest of the plaintext file.  It is in the key so that
 * a host holding only public keys can tell an identical re-push (success)
 * from a different file under the same name (an error), and so that a reader
 * can check what it decrypted.
 *
 * Each key ends with the writer's signature (issue 12, finding 2):
 *   <file>-<sha256>-t<base64url(alg, sysid, signer, signature)>
 * alg is one byte (01: ECDSA P-256), sysid the database system identifier
 * (8 bytes, big-endian; 0 when the writer could not tell), signer the first
 * 8 bytes of the signer's id, and the signature (64 bytes) covers "wal-system",
 * the instance, the file name, the sha256 and the sysid (stream/signed.h), so
 * a reader authenticates an object from its key alone, before decrypting it,
 * and tells apart the WAL of two systems archived under one instance name.
 * Keys written before the system identifier end in "-s<base64url(alg, signer,
 * signature)>", whose signature covers "wal", the instance, the name and the
 * sha256; they are still read, as bound to no system.  The header carries the instance as its id
 * and the file name, so an object copied from another instance, or under another name, is refused.
 * Objects written before signatures end at <sha256> and carry the id "wal": they are read only with
 * allow_unsigned.
 */
#ifndef CF_WALREPO_H
#define CF_WALREPO_H

#include <stdbool.h>
#include <stdint.h>

#include "common/walname.h"
#include "storage/repo.h"

#define CF_WAL_OBJECT_ID "wal" /* the header id of WAL objects written before signatures */

/* One stored WAL file, as found by a listing. */
struct cf_wal_object {
    char key[CF_STORAGE_KEY_MAX + 1];
    char name[CF_WAL_NAME_MAX + 1];     /* as in the object header, e.g. "...partial.00A00000" */
    char sha256[65];                    /* hex, from the key */
    struct cf_wal_file file;
    uint32_t partial_bytes;             /* partials: the offset in the name */
    uint64_t stored_bytes;
    int64_t mtime;
    bool is_signed;          /* the key carries a signature (else: written before) */
    bool binds_system;       /* "t" key: sysid is signed (else: written before) */
    uint64_t sysid;          /* the database system the file belongs to; 0: not known */
    struct cf_signature sig; /* from the key (signer: its first 8 bytes) */
};

/* "<instance>/wal/<dir>/" for a WAL file name (history files: "<instance>/wal/history/"). */
cf_err cf_wal_prefix(const struct cf_repo *r, const struct cf_wal_file *f, char *buf,
                     size_t size, struct cf_error *err);

/* Parse a key (anything under "<instance>/wal/"); false if it is not a WAL object. */
bool cf_wal_parse_key(const struct cf_repo *r, const char *key, struct cf_wal_object *out);

/* Hex sha256 of fd's contents from offset 0 to EOF (or the first len bytes if len > 0),
 * read with pread.  what names the file in messages. */
cf_err cf_wal_hash_fd(int fd, uint64_t len, const char *what, char hex[65],
                      struct cf_error *err);

/*
 * Store name (a WAL file name, or "<segment>.partial.<OFFSET>") from the first
 * len bytes of fd (read with pread from offset 0; len 0: up to end of file),
 * whose plaintext digest is sha256 (cf_wal_hash_fd over the same bytes).  If
 * an object for the same name and the same digest exists already, nothing is
 * written and *already is true.  If one exists with a different digest
 * (partials excepted), CF_ERR_CORRUPT: the repository holds another file under
 * this name.
 */
cf_err cf_wal_store(const struct cf_repo *r, const char *name, int fd, uint64_t len,
                    const char sha256[65], uint64_t sysid, bool *already, struct cf_error *err);
/*
 * cf_wal_store when the digest is not known yet: it is computed and written to
 * sha256 (hex).  Where the driver can name an object after writing it (posix)
 * and no object of this name exists yet, the file is read once; otherwise it is
 * hashed first, then stored as cf_wal_store does.
 */
cf_err cf_wal_store_fd(const struct cf_repo *r, const char *name, int fd, uint64_t len,
                       uint64_t sysid, char sha256[65], bool *already, struct cf_error *err);
/* (sysid: the system of the cluster archiving; 0 if not known.  For segments and
 * partials the file's own first page decides, and a different sysid given here is
 * CF_ERR_CORRUPT: the file belongs to another cluster.) */

/* The system identifier in the first page of the segment open at fd; 0 if none. */
uint64_t cf_wal_header_sysid(int fd);

/* Every stored object for WAL file name (partials of a segment included when
 * name is a segment and with_partials).  *out malloc'd, sorted by key. */
cf_err cf_wal_find(const struct cf_repo *r, const char *name, bool with_partials,
                   struct cf_wal_object **out, size_t *n, struct cf_error *err);

/* Every WAL object of the instance, sorted by key.  cf_wal_find and cf_wal_list
 * skip objects bound to a system other than r->wal_system (when set), with a
 * warning: they are another cluster's. */
cf_err cf_wal_list(const struct cf_repo *r, struct cf_wal_object **out, size_t *n,
                   struct cf_error *err);

/*
 * Check o's signature (from its key) against the trusted signers: CF_ERR_KEY
 * when unsigned (unless r->allow_unsigned) or signed by a key not trusted here,
 * CF_ERR_CORRUPT when it does not verify.
 */
cf_err cf_wal_authenticate(const struct cf_repo *r, const struct cf_wal_object *o,
                           struct cf_error *err);

/* Authenticate o, then decrypt it into terminal, checking that its header names
 * this instance and o->name, and its digest. */
cf_err cf_wal_fetch(const struct cf_repo *r, const struct cf_wal_object *o,
                    struct cf_sink *terminal, struct cf_error *err);

#endif
