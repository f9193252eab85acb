// class-transformer keeps its @Type metadata in a module its package.json does not type; the compiled
// validation reads the nested DTO classes from it, as class-transformer itself does.
declare module 'class-transformer/cjs/storage' {
  export const defaultMetadataStorage: import('class-transformer/types/MetadataStorage').MetadataStorage;
}
