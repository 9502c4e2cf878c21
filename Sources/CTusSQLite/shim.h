#ifndef CTUS_SQLITE_SHIM_H
#define CTUS_SQLITE_SHIM_H

#include <sqlite3.h>

/// Binds `length` bytes of UTF-8 at `text` to parameter `index`, copied by
/// SQLite (SQLITE_TRANSIENT, a macro Swift cannot import). The explicit
/// length keeps embedded NUL characters; a NULL `text` binds the empty string,
/// never SQL NULL.
static inline int ctus_sqlite3_bind_text(sqlite3_stmt *statement, int index, const void *text, sqlite3_uint64 length) {
    return sqlite3_bind_text64(statement, index, text ? (const char *)text : "", text ? length : 0,
                               SQLITE_TRANSIENT, SQLITE_UTF8);
}

/// Binds `length` bytes of UTF-8 at `text` to parameter `index` without a
/// copy (SQLITE_STATIC): the bytes must stay valid until the parameter is
/// bound again or cleared (`sqlite3_clear_bindings`). A NULL `text` binds
/// the empty string.
static inline int ctus_sqlite3_bind_text_static(sqlite3_stmt *statement, int index, const void *text,
                                                sqlite3_uint64 length) {
    return sqlite3_bind_text64(statement, index, text ? (const char *)text : "", text ? length : 0,
                               SQLITE_STATIC, SQLITE_UTF8);
}

#endif
