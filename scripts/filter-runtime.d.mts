// Types for filter-runtime.mjs: the AssemblyScript compiler API, with the filter's collector installed.
import asc from "assemblyscript/asc";

export default asc;
