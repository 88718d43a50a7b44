// agent.js — owned by the console's agent part.
export {};
