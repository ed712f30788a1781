<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\FinalizerInterface;

final class JournalFinalizer implements FinalizerInterface
{
    /** @var list<callable> */
    private array $finalizers = [];

    public function __construct(private readonly Journal $journal)
    {
    }

    public function addFinalizer(callable $finalizer): static
    {
        $this->finalizers[] = $finalizer;

        return $this;
    }

    public function finalize(bool $terminate = false): void
    {
        $this->journal->record($terminate ? 'finalize:terminate' : 'finalize');
        foreach ($this->finalizers as $finalizer) {
            $finalizer($terminate);
        }
    }
}
