export declare const cacheDir: string;
