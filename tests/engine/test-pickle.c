/* The restricted unpickler on hand-written pickles: values of each
 * opcode as Python's pickle module defines them, and the refusals. */
#include "vgg-pickle-private.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      failures++;                                                              \
      printf ("FAIL %s:%d: ", __FILE__, __LINE__);                             \
      printf (__VA_ARGS__);                                                    \
      printf ("\n");                                                           \
    }                                                                          \
  } while (0)

/* Runs the pickle; returns the status, error in err. */
static VggStatus
run (VggPickle *pk, const char *bytes, size_t n, char err[VGG_ERROR_SIZE])
{
  size_t pos = 0;

  memset (pk, 0, sizeof *pk);
  err[0] = '\0';
  return vgg_pickle_run (
      pk, "t.pkl", (const unsigned char *) bytes, n, &pos, 1, err);
}

#define P(lit) lit, sizeof lit - 1

static void
test_integers_follow_python (void)
{
  /* pickle.dumps ((-2, 65535, 2**40, -129), 2): BININT -2, BININT2,
   * LONG1 of 6 bytes, LONG1 0x7f 0xff (= -129) */
  static const char bytes[] = "\x80\x02(J\xfe\xff\xff\xffM\xff\xff"
                              "\x8a\x06\x00\x00\x00\x00\x00\x01"
                              "\x8a\x02\x7f\xfftq\x00.";
  static const int64_t want[] = { -2, 65535, (int64_t) 1 << 40, -129 };
  char err[VGG_ERROR_SIZE];
  VggPickle pk;
  const VggPickleValue *t;

  CHECK (run (&pk, bytes, sizeof bytes - 1, err) == VGG_OK, "%s", err);
  t = &pk.values[pk.root];
  CHECK (t->kind == VGG_PK_TUPLE && t->n_items == 4, "kind %d n %u", t->kind,
      t->n_items);
  for (uint32_t i = 0; i < 4 && i < t->n_items; i++) {
    const VggPickleValue *v = &pk.values[t->items[i]];
    CHECK (v->kind == VGG_PK_INT && v->i == want[i], "item %u: %lld, want %lld",
        i, (long long) v->i, (long long) want[i]);
  }
  vgg_pickle_clear (&pk);
}

static void
test_ordered_dict_and_memo (void)
{
  /* OrderedDict ([("a", 1)]) then the memoized dict set again with "b" */
  static const char bytes[] = "\x80\x02\x63"
                              "collections\nOrderedDict\n"
                              "]\x8c\x01"
                              "aK\x01\x86"
                              "a\x85R"
                              "q\x05h\x05\x8c\x01"
                              "bK\x02s0.";
  char err[VGG_ERROR_SIZE];
  VggPickle pk;
  const VggPickleValue *d, *a, *b;

  CHECK (run (&pk, bytes, sizeof bytes - 1, err) == VGG_OK, "%s", err);
  d = &pk.values[pk.root];
  a = vgg_pickle_dict_get (&pk, d, "a");
  b = vgg_pickle_dict_get (&pk, d, "b");
  CHECK (d->kind == VGG_PK_DICT && d->n_items == 4, "dict of %u items",
      d->n_items);
  CHECK (a && a->kind == VGG_PK_INT && a->i == 1, "a");
  CHECK (b && b->kind == VGG_PK_INT && b->i == 2, "b (through the memo)");
  vgg_pickle_clear (&pk);
}

static void
expect_error (const char *what, const char *bytes, size_t n, VggStatus want,
    const char *phrase)
{
  char err[VGG_ERROR_SIZE];
  VggPickle pk;
  VggStatus status = run (&pk, bytes, n, err);

  CHECK (status == want && strstr (err, phrase) != NULL
          && strncmp (err, "t.pkl: ", 7) == 0,
      "%s: status %d (want %d), message \"%s\" (want \"%s\")", what, status,
      want, err, phrase);
  vgg_pickle_clear (&pk);
}

static void
test_refusals (void)
{
  expect_error ("posix.system",
      P ("\x80\x02\x63posix\nsystem\nX\x02\x00\x00\x00id\x85R."),
      VGG_ERROR_UNSUPPORTED, "global posix.system is not allowed");
  expect_error ("STACK_GLOBAL builtins.exec",
      P ("\x80\x04\x8c\x08"
         "builtins\x8c\x04"
         "exec\x93."),
      VGG_ERROR_UNSUPPORTED, "global builtins.exec is not allowed");
  expect_error ("INST", P ("\x80\x02iFoo\nBar\n."), VGG_ERROR_UNSUPPORTED,
      "opcode 0x69 ('i') is not allowed");
  expect_error ("OBJ", P ("\x80\x02(o."), VGG_ERROR_UNSUPPORTED,
      "opcode 0x6f ('o') is not allowed");
  expect_error ("two values at STOP", P ("\x80\x02K\x01K\x02."),
      VGG_ERROR_FORMAT, "STOP with 2 values");
  expect_error (
      "no STOP", P ("\x80\x02K\x01"), VGG_ERROR_FORMAT, "the pickle ends");
  expect_error ("BINGET unset", P ("\x80\x02h\x07."), VGG_ERROR_FORMAT,
      "memo key 7 was never set");
  expect_error ("SETITEM on a list", P ("\x80\x02]K\x01K\x02s."),
      VGG_ERROR_FORMAT, "SETITEMS on a list");
  expect_error ("protocol 6", P ("\x80\x06N."), VGG_ERROR_UNSUPPORTED,
      "pickle protocol 6");
  expect_error ("bad UTF-8", P ("\x80\x02\x8c\x02\xc3\x28."), VGG_ERROR_FORMAT,
      "not valid UTF-8");
  expect_error ("persistent id of another shape",
      P ("\x80\x02\x8c\x03"
         "abc\x85Q."),
      VGG_ERROR_FORMAT, "persistent id is not ('storage'");
  expect_error ("LONG4 of 1000 bytes", P ("\x80\x02\x8b\xe8\x03\x00\x00."),
      VGG_ERROR_FORMAT, "integer of 1000 bytes is too long");
}

int
main (void)
{
  test_integers_follow_python ();
  test_ordered_dict_and_memo ();
  test_refusals ();
  printf ("%s\n", failures ? "FAILED" : "all pickle tests passed");
  return failures ? 1 : 0;
}
