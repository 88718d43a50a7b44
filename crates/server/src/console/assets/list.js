// list.js — owned by the console's list part.
export {};
