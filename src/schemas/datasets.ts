import { Type, type Static } from '@sinclair/typebox';

export const DatasetSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    layout: Type.Union([Type.Literal('flat'), Type.Literal('split')], {
      description: "'flat': <class>/<image>, split for validation by the job; 'split': explicit train/ and val/",
    }),
    classes: Type.Array(
      Type.Object({
        name: Type.String(),
        count: Type.Integer({ description: 'Usable images (train and val together)' }),
      }),
      { description: 'Classes in index order (sorted names, as Keras does)' },
    ),
    images: Type.Integer({ description: 'Usable images in all' }),
    skipped: Type.Array(Type.Object({ path: Type.String(), reason: Type.String() }), {
      description: 'Files that were not used, with the reason',
    }),
    bytes: Type.Integer({ description: 'Bytes of the extracted files' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Dataset' },
);
export type Dataset = Static<typeof DatasetSchema>;

export const DatasetListSchema = Type.Object({ datasets: Type.Array(Type.Ref(DatasetSchema)) });
export const DatasetParamsSchema = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });

/** Documents the multipart form; it has no `type`, so the streamed (unparsed) body passes validation. */
export const DatasetUploadSchema = {
  required: ['file'],
  properties: {
    file: {
      type: 'string',
      format: 'binary',
      description: '.zip, .tar or .tar.gz of <class>/<image> (one wrapping folder allowed) or train/ + val/',
    },
    name: { type: 'string', maxLength: 200, description: 'Default: the archive file name' },
  },
} as const;
