// The wide-character curses API (add_wch, setcchar, get_wch) is declared only when
// _XOPEN_SOURCE_EXTENDED is set before the header is included.
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <ncursesw/curses.h>
