export declare const NPM: string;
