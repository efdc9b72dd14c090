#ifndef WEBHOOKD_COPENSSL_SHIM_H
#define WEBHOOKD_COPENSSL_SHIM_H

#include <openssl/opensslv.h>
#if OPENSSL_VERSION_NUMBER < 0x30000000L
#error "webhookd needs OpenSSL 3.0 or newer"
#endif

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

// Helpers for the OpenSSL macros Swift cannot import: COpenSSL_ + the exact macro name,
// one-line bodies, no policy (STYLE.md §6.9). Constants defined through a macro call are
// copied into typed constants under the same rule.

static const uint64_t COpenSSL_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const uint64_t COpenSSL_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t COpenSSL_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t COpenSSL_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;

static inline int COpenSSL_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int COpenSSL_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long COpenSSL_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline void COpenSSL_SSL_CTX_set_read_ahead(SSL_CTX *ctx, int yes) {
    SSL_CTX_set_read_ahead(ctx, yes);
}
static inline long COpenSSL_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}
static inline int COpenSSL_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return (int)SSL_CTX_set1_groups_list(ctx, list);
}
static inline int COpenSSL_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *x509) {
    return (int)SSL_CTX_add_extra_chain_cert(ctx, x509);
}
static inline int COpenSSL_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline void COpenSSL_OPENSSL_free(void *ptr) {
    OPENSSL_free(ptr);
}

// Constants defined through macro expressions.
static const unsigned long COpenSSL_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;
static const int COpenSSL_MBSTRING_UTF8 = MBSTRING_UTF8;
static const int COpenSSL_V_ASN1_NEG_INTEGER = V_ASN1_NEG_INTEGER;
static const uint32_t COpenSSL_SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const uint32_t COpenSSL_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
static const uint32_t COpenSSL_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;

// Key generation (EVP_EC_gen / EVP_RSA_gen wrap the variadic EVP_PKEY_Q_keygen).
static inline EVP_PKEY *COpenSSL_EVP_EC_gen(const char *curve) {
    return EVP_EC_gen(curve);
}
static inline EVP_PKEY *COpenSSL_EVP_RSA_gen(unsigned int bits) {
    return EVP_RSA_gen(bits);
}

// ex_data and memory BIOs.
static inline int COpenSSL_SSL_get_ex_new_index(long argl, void *argp, CRYPTO_EX_new *newf, CRYPTO_EX_dup *dupf,
                                                CRYPTO_EX_free *freef) {
    return SSL_get_ex_new_index(argl, argp, newf, dupf, freef);
}
static inline long COpenSSL_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

// STACK_OF(X509).
static inline int COpenSSL_sk_X509_num(const STACK_OF(X509) *sk) {
    return sk_X509_num(sk);
}
static inline X509 *COpenSSL_sk_X509_value(const STACK_OF(X509) *sk, int index) {
    return sk_X509_value(sk, index);
}
static inline STACK_OF(X509) *COpenSSL_sk_X509_new_null(void) {
    return sk_X509_new_null();
}
static inline int COpenSSL_sk_X509_push(STACK_OF(X509) *sk, X509 *x509) {
    return sk_X509_push(sk, x509);
}
static inline void COpenSSL_sk_X509_free(STACK_OF(X509) *sk) {
    sk_X509_free(sk);
}
static inline void COpenSSL_sk_X509_pop_free(STACK_OF(X509) *sk, void (*freefunc)(X509 *)) {
    sk_X509_pop_free(sk, freefunc);
}

// STACK_OF(GENERAL_NAME), STACK_OF(ASN1_OBJECT) (EXTENDED_KEY_USAGE) and STACK_OF(X509_REVOKED), for
// `webhookd certs inspect` and `revoke`.
static inline int COpenSSL_sk_GENERAL_NAME_num(const STACK_OF(GENERAL_NAME) *sk) {
    return sk_GENERAL_NAME_num(sk);
}
static inline GENERAL_NAME *COpenSSL_sk_GENERAL_NAME_value(const STACK_OF(GENERAL_NAME) *sk, int index) {
    return sk_GENERAL_NAME_value(sk, index);
}
static inline int COpenSSL_sk_ASN1_OBJECT_num(const STACK_OF(ASN1_OBJECT) *sk) {
    return sk_ASN1_OBJECT_num(sk);
}
static inline ASN1_OBJECT *COpenSSL_sk_ASN1_OBJECT_value(const STACK_OF(ASN1_OBJECT) *sk, int index) {
    return sk_ASN1_OBJECT_value(sk, index);
}
static inline int COpenSSL_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *sk) {
    return sk_X509_REVOKED_num(sk);
}
static inline X509_REVOKED *COpenSSL_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *sk, int index) {
    return sk_X509_REVOKED_value(sk, index);
}

#endif
