/* SPDX-License-Identifier: MIT */
/*
 * The boot menu as a state machine with no drawing and no EFI: the caller
 * feeds it time (menu_tick) and keys (menu_key) and gets events back; the
 * serial console and the graphical menu both draw from menu_view().
 *
 * List mode: Up/Down/Home/End/PgUp/PgDn move, Enter boots the selection,
 * digits choose an entry by its number, 'e' edits the selection's command
 * line (unless the editor is off), 'q' quits, Esc clears the status line.
 * Any key stops the countdown, and is then handled as usual.
 * Numbers: typed digits select the entry with that number; once no longer
 * number starts with them (always with nine entries or fewer, "2" of 12,
 * "12" of 12) that entry boots at once, else Enter boots it or another
 * digit goes on ("1" then "0" of 12 is entry 10). A number without an
 * entry says so and starts over; any other key drops what was typed.
 * Edit mode: Left/Right/Home/End move the cursor, Backspace/Delete remove,
 * printable ASCII inserts (up to cmdline_max bytes), Enter boots with the
 * edited line, Esc goes back to the list and drops the edit.
 */
#ifndef VQ_MENU_H
#define VQ_MENU_H

#include "lib/compat.h"

#define MENU_STATUS_MAX 160
#define MENU_VIEW_ROWS_MAX 32
#define MENU_PAGE 10
#define MENU_CMDLINE_LIMIT 65536 /* menu_init refuses a larger cmdline_max */

enum menu_key {
	MENU_KEY_NONE = 0,
	MENU_KEY_UP,
	MENU_KEY_DOWN,
	MENU_KEY_PGUP,
	MENU_KEY_PGDN,
	MENU_KEY_HOME,
	MENU_KEY_END,
	MENU_KEY_LEFT,
	MENU_KEY_RIGHT,
	MENU_KEY_ENTER,
	MENU_KEY_ESC,
	MENU_KEY_BACKSPACE,
	MENU_KEY_DELETE,
	MENU_KEY_CHAR, /* a character: the @ch argument of menu_key */
};

/** One line of the menu. The strings must outlive the menu. */
struct menu_item {
	const char *title;
	const char *cmdline; /* what Enter boots with; NULL means "" */
	bool broken;         /* shown marked; booting it gives MENU_EV_ERROR */
	const char *reason;  /* why it is broken, or NULL */
};

enum menu_event_type {
	MENU_EV_NONE = 0, /* nothing changed on screen */
	MENU_EV_REDRAW,   /* draw menu_view() again */
	MENU_EV_BOOT,     /* boot index with cmdline */
	MENU_EV_QUIT,     /* the user wants out (back to the firmware) */
	MENU_EV_ERROR,    /* message is also the view's status line: redraw */
};

struct menu_event {
	enum menu_event_type type;
	size_t index;        /* BOOT, ERROR about an entry */
	const char *cmdline; /* BOOT: valid until the next menu_* call */
	const char *message; /* ERROR */
};

struct menu {
	const struct menu_item *items;
	size_t count;
	size_t selected;
	size_t default_index;
	int timeout_s;        /* < 0: wait for a key; 0: boot at once */
	bool editor;
	bool visible;         /* false until the menu has to be shown */
	/* countdown */
	bool counting;
	uint64_t deadline_us;
	int shown_s;          /* seconds left as last reported */
	/* edit mode */
	bool editing;
	char *edit;           /* cmdline_max + 1 bytes, when editor */
	size_t edit_len;
	size_t edit_cursor;
	size_t cmdline_max;
	size_t typed;         /* entry number typed so far, 0 for none */
	char status[MENU_STATUS_MAX];
};

/**
 * Set up @m over @count @items (the menu keeps the pointer).
 * @default_index past the end means 0. @timeout_s: seconds, 0 to boot the
 * default without showing anything, < 0 to wait for a key. @cmdline_max is
 * the longest command line the editor lets the user make (bytes, no NUL).
 * Returns 0, -VQ_EINVAL (cmdline_max 0 or over MENU_CMDLINE_LIMIT),
 * -VQ_ENOMEM.
 */
int menu_init(struct menu *m, const struct menu_item *items, size_t count,
	      size_t default_index, int timeout_s, bool editor,
	      size_t cmdline_max);
void menu_free(struct menu *m);

/** First call, at @now_us: BOOT at once (timeout 0), else REDRAW. */
void menu_start(struct menu *m, uint64_t now_us, struct menu_event *ret);

/** The clock moved: REDRAW when the countdown's seconds change, BOOT of
 * the default when it runs out, else NONE. */
void menu_tick(struct menu *m, uint64_t now_us, struct menu_event *ret);

/** A key press (@ch for MENU_KEY_CHAR). */
void menu_key(struct menu *m, enum menu_key key, uint32_t ch,
	      struct menu_event *ret);

/** Show @msg on the status line (e.g. why a boot failed) and the menu. */
void menu_set_status(struct menu *m, const char *msg);

struct menu_view_line {
	size_t index;        /* into the items */
	const char *title;
	size_t number;       /* 1-based: the digits that choose it */
	bool selected;
	bool is_default;
	bool broken;
};

/** Everything a renderer needs; pointers stay valid until the next call. */
struct menu_view {
	bool visible;
	size_t line_count;
	struct menu_view_line lines[MENU_VIEW_ROWS_MAX];
	int number_width;    /* digits of the largest number, for alignment */
	bool more_above;     /* items hidden above / below the window */
	bool more_below;
	char countdown[64];  /* "" when not counting */
	const char *status;  /* "" when none */
	const char *help;    /* key help for the current mode */
	const char *detail;  /* selection: why broken, else its cmdline */
	bool editing;
	const char *edit_text; /* edit_len bytes, NUL-terminated */
	size_t edit_len;
	size_t edit_cursor;  /* 0..edit_len */
	size_t edit_first;   /* first byte shown so the cursor fits in cols */
};

/** The picture for a list of @rows lines and an edit line of @cols. */
void menu_view(const struct menu *m, size_t rows, size_t cols,
	       struct menu_view *ret);

#endif
