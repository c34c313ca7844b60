#include "CMailPortOpenSSLShims.h"
#include <string.h>

int mp_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
int mp_SSL_get_negotiated_group(SSL *ssl) { return (int)SSL_get_negotiated_group(ssl); }
int mp_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
int mp_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
void mp_SSL_CTX_disable_resumption(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}
int mp_sk_X509_num(const STACK_OF(X509) *stack) { return stack ? sk_X509_num(stack) : 0; }
X509 *mp_sk_X509_value(const STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }

int mp_X509_san_count(X509 *cert) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) return 0;
    int count = sk_GENERAL_NAME_num(names);
    GENERAL_NAMES_free(names);
    return count;
}

int mp_X509_san_entry(X509 *cert, int index, char *buffer, int capacity, int *is_ip) {
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) return 0;
    int result = 0;
    if (index < sk_GENERAL_NAME_num(names)) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
        *is_ip = 0;
        if (name->type == GEN_DNS) {
            int length = ASN1_STRING_length(name->d.dNSName);
            if (length > capacity) length = capacity;
            memcpy(buffer, ASN1_STRING_get0_data(name->d.dNSName), (size_t)length);
            result = length;
        } else if (name->type == GEN_IPADD) {
            int length = ASN1_STRING_length(name->d.iPAddress);
            if (length > capacity) length = capacity;
            memcpy(buffer, ASN1_STRING_get0_data(name->d.iPAddress), (size_t)length);
            *is_ip = 1;
            result = length;
        } else {
            result = -1;
        }
    }
    GENERAL_NAMES_free(names);
    return result;
}
unsigned long mp_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
