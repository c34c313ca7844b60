// The system OpenSSL (Debian: libssl-dev). One header pulls in what MailPort calls.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/opensslv.h>
