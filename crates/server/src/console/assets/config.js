// config.js — owned by the console's config part.
export {};
