#ifndef C_MAILPORT_OPENSSL_SHIMS_H
#define C_MAILPORT_OPENSSL_SHIMS_H
// OpenSSL calls that are macros (or take variadic/stack types) and so cannot be called from Swift directly.
// Each wrapper is one line; names are prefixed mp_ to keep them apart from OpenSSL's own.
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/// SSL_set_tlsext_host_name is a macro over SSL_ctrl: sends SNI.
int mp_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
/// SSL_get_negotiated_group is a macro: the key-exchange group's NID (0 when none).
int mp_SSL_get_negotiated_group(SSL *ssl);
/// SSL_CTX_set_min/max_proto_version are macros.
int mp_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int mp_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
/// SSL_OP_NO_TICKET and SSL_CTX_set_session_cache_mode are macros: a server that issues no session to resume.
void mp_SSL_CTX_disable_resumption(SSL_CTX *ctx);
/// STACK_OF(X509) accessors are macros.
int mp_sk_X509_num(const STACK_OF(X509) *stack);
X509 *mp_sk_X509_value(const STACK_OF(X509) *stack, int index);
/// The DNS names and IP addresses of a certificate's subjectAltName, one per call: returns the length written
/// into buffer (0 when index is past the end, -1 for an entry of another type, which the caller skips).
int mp_X509_san_entry(X509 *cert, int index, char *buffer, int capacity, int *is_ip);
/// Number of entries in a certificate's subjectAltName (0 when it has none).
int mp_X509_san_count(X509 *cert);
/// XN_FLAG_RFC2253 is a macro built from several others.
unsigned long mp_XN_FLAG_RFC2253(void);
#endif
