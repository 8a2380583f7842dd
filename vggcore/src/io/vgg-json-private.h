/* A strict RFC 8259 JSON parser for the header of a safetensors file,
 * into a flat tree: nodes live in one array and refer to each other by
 * index (the array grows by realloc), decoded strings live NUL-terminated
 * in one buffer.  Every read of the text is bounds-checked against its
 * length: the header is followed by tensor data in the mapping, not by a
 * terminating NUL.  Private to vggcore. */
#ifndef VGG_JSON_PRIVATE_H
#define VGG_JSON_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

/* No node: the end of a list of children, or a failed parse. */
#define VGG_JSON_NONE UINT32_MAX

typedef enum
{
  VGG_JSON_NULL,
  VGG_JSON_BOOLEAN,
  VGG_JSON_INTEGER,     /* fits int64_t */
  VGG_JSON_BIG_INTEGER, /* an integer literal outside int64_t */
  VGG_JSON_REAL,        /* with a fraction or an exponent */
  VGG_JSON_STRING,
  VGG_JSON_ARRAY,
  VGG_JSON_OBJECT
} VggJsonKind;

typedef struct
{
  VggJsonKind kind;
  uint32_t pos;  /* byte offset of the value in the header */
  uint32_t key;  /* member name (offset in strings), VGG_JSON_NONE in arrays */
  uint32_t next; /* next member or element of the parent */
  union
  {
    int64_t integer;
    uint32_t string; /* offset in strings */
    struct
    {
      uint32_t first;
      uint32_t count;
    } children;
  } u;
} VggJsonNode;

typedef struct
{
  const unsigned char *text;
  uint32_t length;
  uint32_t pos;
  VggJsonNode *nodes;
  uint32_t n_nodes;
  uint32_t n_alloc;
  /* A decoded string is never longer than its literal, and its NUL fits
   * in the room of the two quotes, so length + 1 bytes hold them all. */
  char *strings;
  uint32_t strings_used;
  bool nomem;
  bool failed;
  uint32_t error_pos;
  char problem[128];
} VggJsonParser;

/* Parses text[0, length) (which need not end with a NUL); the root is
 * node 0.  Only whitespace may follow the root value (the safetensors
 * format pads the header with spaces).  On false, p->problem says what is
 * wrong at byte p->error_pos, and p->nomem whether memory ran out.  Clear
 * p with vgg_json_parser_clear () in both cases. */
bool vgg_json_parse (
    VggJsonParser *p, const unsigned char *text, uint32_t length);
void vgg_json_parser_clear (VggJsonParser *p);

/* "an integer", "an object", ...: for messages.  Static string. */
const char *vgg_json_kind_describe (VggJsonKind kind);

/* The member name of node in an object, and the value of a
 * VGG_JSON_STRING node: borrowed from p, NUL-terminated UTF-8. */
const char *vgg_json_key (const VggJsonParser *p, const VggJsonNode *node);
const char *vgg_json_string (const VggJsonParser *p, const VggJsonNode *node);

#endif
