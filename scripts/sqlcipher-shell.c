/*
 * The tests' SQLCipher shell: the smallest driver around SQLCipher's own
 * amalgamation (scripts/sqlcipher.sh builds both), so the oracle shares no
 * code with better-sqlite3-multiple-ciphers, which the tool opens files with.
 *
 *   sqlcipher-shell FILE < script.sql
 *
 * Runs every statement of standard input in order, as sqlite3_exec does,
 * printing each result row as its columns joined by "|" (NULL prints as
 * nothing). The first error is printed as "Error: ..." and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static int print_row(void *unused, int columns, char **values, char **names) {
  (void)unused;
  (void)names;
  for (int i = 0; i < columns; i++) {
    if (i > 0) fputc('|', stdout);
    if (values[i]) fputs(values[i], stdout);
  }
  fputc('\n', stdout);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE < script.sql\n", argv[0]);
    return 2;
  }
  size_t size = 0, capacity = 1 << 16;
  char *sql = malloc(capacity);
  for (size_t n; sql && (n = fread(sql + size, 1, capacity - size - 1, stdin)) > 0;) {
    size += n;
    if (capacity - size - 1 == 0) sql = realloc(sql, capacity *= 2);
  }
  if (!sql) return 2;
  sql[size] = '\0';
  sqlite3 *db;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
    fprintf(stderr, "Error: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  char *error = NULL;
  int rc = sqlite3_exec(db, sql, print_row, NULL, &error);
  fflush(stdout);
  if (rc != SQLITE_OK) fprintf(stderr, "Error: %s\n", error ? error : sqlite3_errstr(rc));
  sqlite3_free(error);
  sqlite3_close(db);
  free(sql);
  return rc == SQLITE_OK ? 0 : 1;
}
