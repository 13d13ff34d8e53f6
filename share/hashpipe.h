/* hashpipe.h: the SHA-256 of a member's bytes, and their writing to a file, done by a thread beside the caller, who meanwhile reads, compresses or decompresses the next bytes (backup, restore, and a sync's downloads). */
#ifndef DEPOT_HASHPIPE_H
#define DEPOT_HASHPIPE_H
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

struct writeout;

/* The buffers the caller fills, each this large. */
#define HASHPIPE_CHUNK (128 * 1024)
/*
 * Bytes below which a member is cheaper to hash in line: starting and
 * joining the thread costs about what hashing 50 KiB does, and a small
 * member leaves little to overlap.
 */
#define HASHPIPE_MIN (512 * 1024)

struct hashpipe;

/*
 * Starts the thread. Every chunk handed to it is added to md when md is
 * not NULL, and written through out when out is not NULL (writeout.h:
 * its writeback starts as it goes). Both stay the caller's, who must not
 * use them until hashpipe_finish, and who finishes the digest. NULL with
 * errno when no thread or memory could be had.
 */
struct hashpipe *hashpipe_start(struct writeout *out, EVP_MD_CTX *md);
/*
 * The same with one thread, which hashes each chunk and then writes it
 * while it is still in that CPU's cache: for a caller that runs several
 * pipes at once (a sync's downloads), whose threads keep every CPU busy
 * anyway, so a second thread a pipe would only move the bytes between
 * CPUs once more. Without out, as hashpipe_start.
 */
struct hashpipe *hashpipe_start_joined(struct writeout *out, EVP_MD_CTX *md);
/*
 * The next buffer to fill, HASHPIPE_CHUNK bytes; waits while every buffer
 * is still the thread's. The caller may go on reading the buffer it
 * pushed last until it asks for the next one.
 */
unsigned char *hashpipe_buffer(struct hashpipe *p);
/* Hands the buffer hashpipe_buffer returned last, holding n bytes, to the thread. */
void hashpipe_push(struct hashpipe *p, size_t n);
/*
 * 0 while every write went well, else errno of the first that failed: a
 * caller can stop feeding a file that will not be written anyway.
 */
int hashpipe_error(struct hashpipe *p);
/*
 * Waits for the thread to finish what it was handed, stops it and frees
 * p: 0, or -1 with errno of the write that failed (the chunks after it
 * were not written).
 */
int hashpipe_finish(struct hashpipe *p);

/* A 32-byte digest as 64 hex digits and a NUL. */
void hashpipe_hex(const unsigned char *digest, char *hex);

#endif
