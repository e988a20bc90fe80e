"""质检 (call quality inspection): every call an operator answered is checked automatically from
its per-speaker transcripts, per-leg recordings and call facts (greeting, forbidden words, long
silence, talking over the citizen, hold, wrap-up, ticket registered) into a score with evidence;
a sampling rule fills each inspector's queue; inspectors score with the admin's rubric; operators
see their own results and may appeal once."""
