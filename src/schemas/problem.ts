import { Type, type Static } from '@sinclair/typebox';

/** RFC 9457 problem details, the body of every error response. */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the kind of problem; about:blank for plain HTTP errors' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String({ description: 'What went wrong with this request, for a person' })),
    instance: Type.Optional(Type.String({ description: 'The request path' })),
  },
  { $id: 'Problem', additionalProperties: true, description: 'application/problem+json' },
);
export type Problem = Static<typeof ProblemSchema>;

export const problemResponse = (description: string) => ({ ...Type.Ref(ProblemSchema), description });
