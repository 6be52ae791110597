import { createHash } from 'node:crypto';

/** The classic authors/books fixture: 20 authors with 3 books each, held in memory. */
export interface Book {
  id: string;
  title: string;
}

export interface Author {
  id: string;
  name: string;
  books: Book[];
}

export const AUTHOR_COUNT = 20;
export const BOOKS_PER_AUTHOR = 3;

export const authors: Author[] = Array.from({ length: AUTHOR_COUNT }, (_, a) => ({
  id: `author-${a + 1}`,
  name: `Author ${a + 1}`,
  books: Array.from({ length: BOOKS_PER_AUTHOR }, (_, b) => ({
    id: `book-${a + 1}-${b + 1}`,
    title: `Book ${b + 1} of author ${a + 1}`,
  })),
}));

/** The `md5` field: hex MD5 of the title, computed on every request as the classic benchmark does. */
export function md5(text: string): string {
  return createHash('md5').update(text).digest('hex');
}

/** The one query every GraphQL peer answers. */
export const QUERY = '{ authors { id name books { id title md5 } } }';

/** SDL of the peers (Atrium's module declares the same types under its own schema). */
export const typeDefs = /* GraphQL */ `
  type Book {
    id: ID!
    title: String!
    md5: String!
  }

  type Author {
    id: ID!
    name: String!
    books: [Book!]!
  }

  type Query {
    authors: [Author!]!
  }
`;

/** Resolvers shared by the bare GraphQL peers. */
export const resolvers = {
  Query: { authors: (): Author[] => authors },
  Book: { md5: (book: Book): string => md5(book.title) },
};

/** The answer every server must give, as `{ data: { authors } }`. */
export function expectedAnswer(): { data: { authors: (Omit<Author, 'books'> & { books: (Book & { md5: string })[] })[] } } {
  return {
    data: {
      authors: authors.map((author) => ({
        id: author.id,
        name: author.name,
        books: author.books.map((book) => ({ id: book.id, title: book.title, md5: md5(book.title) })),
      })),
    },
  };
}
