// Package lql parses and evaluates LQL, lockd's selector and mutation
// language over JSON documents, wire-compatible with lockd v0.9.
//
// Selectors pick documents (/v1/query, "lockd client query"); mutations
// change one document (/v1/mutate, "lockd client set/edit/mutate"). Both
// address values with RFC 6901 JSON Pointers: "/a/b" is key "b" of key
// "a"; "~1" stands for '/' and "~0" for '~' inside a key; a decimal
// segment indexes an array. Keys may contain spaces ("/hello key").
//
// # Selector text
//
// Whitespace (blanks) may surround every token. Informally:
//
//	selector  = [ clause { sep clause } ] .         sep: ',' or newline
//	clause    = { qualifier "." } ( term | group | shorthand ) .
//	qualifier = ( "and" | "or" ) [ "." index ] | "not" .
//	group     = ( "and" | "or" | "not" ) "{" selector "}" .
//	shorthand = pointer op value .                  op: = == != > >= < <=
//	term      = name "{" [ arg { argsep arg } ] "}" | "exists" "=" pointer .
//	name      = eq | in | range | date | exists | prefix | iprefix
//	          | contains | icontains .              (any case)
//	arg       = key "=" value | pointer .           (bare pointer: exists only)
//	argsep    = ',' | newline | blanks .
//	key       = field|f  value|v  any|a  ignoreCase|ic  gt gte lt lte
//	          | after|a  before|b (date) .
//	value     = quoted | bare | "[" value { ',' value } "]" .  (list: any= only)
//	pointer   = quoted | bare .                     must start with '/'
//
// quoted is a "double" or 'single' quoted string with the escapes
// \" \' \\ \/ \b \f \n \r \t \uXXXX; a bare word runs to the next
// separator ('}' and, inside braces, blanks end it too) and is typed:
// true/false/null (any case) are those values, JSON number syntax is a
// number, anything else is a string. A quoted value is always a string.
// any= also takes "a|b|c" (pipe-separated, each bare piece typed).
//
// Clauses at one level must all match. Qualifier chains build groups:
// "and.N." puts the clause into conjunction N (clauses with the same N are
// ANDed together), "or.N." into alternative N of the level's one OR group
// (clauses with the same N are ANDed inside that alternative), and "not."
// negates the clause. Without an index each and./or. opens its own slot.
// A level means AND(its clauses and and-slots, OR(its alternatives)):
//
//	eq{field=/status,value=open},or.eq{field=/owner,value=a},or.1.eq{field=/owner,value=b}
//	  = status is open AND (owner is a OR owner is b)
//
// Groups nest explicitly: or{/a=1,/b=2} is OR, and{...} is AND and
// not{x,y} is NOT(x AND y). Shorthand: /f=v and /f==v are eq, /f!=v is
// not.eq, and > >= < <= are a range with one bound. date{} is a range
// whose bounds must be timestamps (after is gt, before is lt, value sets
// gte and lte). The empty text is the empty selector and matches every
// document.
//
// # Selector JSON
//
// /v1/query carries the same AST as JSON (see ParseJSONSelector and
// Selector.MarshalJSON), e.g. {"and":[{"eq":{"field":"/status","value":
// "open"}},{"range":{"field":"/n","gte":10}}]}.
//
// # Evaluation
//
// A leaf clause whose field does not resolve does not match; NOT of it
// does. Values of the wrong type never match; evaluation never panics.
//
//   - Numbers compare numerically: exactly as int64 when both sides are
//     integers that fit, otherwise as float64 (an integer against a float
//     is still ordered exactly). The document's json.Number, float64 or Go
//     integer is compared with the literal's JSON number text.
//   - Strings compare byte-wise (eq: equal bytes; range: lexical order).
//     When both a string literal and a document string parse as
//     timestamps (RFC 3339, or YYYY-MM-DD as midnight UTC) eq also holds
//     when they are the same instant.
//   - Booleans and null compare by equality with literals of their kind.
//   - lockd v0.9 sends every eq value as a JSON string, so a string
//     literal whose text is a JSON number also equals a document number of
//     that value, and the strings "true"/"false" equal those booleans.
//     Number, boolean and null literals never match strings.
//   - range: all bounds are numbers (numeric range), all timestamps (the
//     document string must parse as a timestamp) or all other strings
//     (lexical range); mixing is a syntax error. Every set bound must
//     hold.
//   - in: eq against any of the values.
//   - prefix/contains: the document value must be a string; with
//     ignoreCase (or the i-variants) both sides are lower-cased. With no
//     value they only require the field to be present (any type).
//   - exists: the field is present and not null.
//   - Arrays and objects are never equal to a literal; there is no
//     implicit "any element" matching.
//
// # Mutation text
//
//	mutations = [ mutation { sep mutation } ] .     sep: ',' or newline
//	mutation  = ( "rm" | "remove" | "delete" | "del" ) ":" path
//	          | "time" ":" path "=" ( "NOW" | rfc3339 )
//	          | path "++" | path "--"
//	          | path "=" ( "+" | "-" ) number       increment by ±number
//	          | path "=" value                      quoted, JSON {...}/[...], or bare
//	          | path "{" mutations "}" .            fan-out: path prefixes each inner path
//	path      = pointer | name .                    a bare name is read as "/name"
//
// Bare values are typed like selector bare words (so /n=5 stores the
// number 5 and /s="5" the string "5"); /n=-3 is a decrement, so a negative
// number is stored with "/n=0,/n=-3" or a JSON value. time: stores the
// timestamp normalized to RFC 3339 with nanoseconds in UTC; NOW takes it
// from the clock given to Apply. file:, textfile: and base64file: read
// local files and belong to the client, so they are rejected here.
//
// Apply runs a list of mutations atomically against a copy of the
// document: set creates missing intermediate objects; an increment of a
// missing value stores the delta and of a non-number fails; rm of a
// missing path does nothing; an array element may be set, incremented or
// removed by index but arrays are never grown.
package lql
