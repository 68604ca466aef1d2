/* Synthetic demo data: one sqlite records database per demo state.
 *
 * Every record is invented (no real person): names plausible for each state,
 * passports and national ids, phones with the state's country code, addresses, cases
 * and vessels, plus a shared population of people and vessels that appear in two to
 * four states under spelling variants, transliterations, reordered names and
 * year-only dates of birth, so that the merge has real work. The well-known demo
 * subjects (docs/adapters.md) appear in every state the docs name. */
#ifndef FB_DEMO_DEMO_DATA_H
#define FB_DEMO_DEMO_DATA_H

/* The demo states, in file order. */
extern const char *const fb_demo_states[4]; /* "IDN", "MYS", "THA", "BGD" */

/* Writes DIR/IDN.db, DIR/MYS.db, DIR/THA.db, DIR/BGD.db (replacing them) and
 * DIR/truth.json, fully determined by `seed`: the same seed gives byte-identical
 * files. DIR must exist.
 *
 * truth.json: {"about", "seed", "people": [{"person": "P0001", "name" (canonical
 * Latin spelling), "dob", "records": [ids], "script"?, "native_queries"?: [the name
 * in another script], "native_records"?: [ids whose name is written in that
 * script]}]}, listing every person held by two or more states; a record not listed
 * is a person held by one state only. The cross-script people (Thai, Bengali, Jawi,
 * Rohingya in Arabic script, Burmese) come after each state's first 3000 persons.
 * Returns 0, or -1 with *err a malloc'd sentence. */
int fb_demo_data_generate(const char *dir, unsigned seed, char **err);

#endif
