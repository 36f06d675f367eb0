// The npm that came with the Node running this script. Under `npm run` and `npm test`, node_modules/.bin comes first
// on PATH, and a dependency of as-pect (npm-install-peers) puts npm 6 there: too old for what the scripts ask of npm
// (`npm pack --pack-destination`, current lockfiles). Falls back to the PATH's npm where Node stands alone.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const beside = join(dirname(process.execPath), "npm");
export const NPM = existsSync(beside) ? beside : "npm";
